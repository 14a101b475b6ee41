import { InputError, nowSeconds } from '../core/index.js';
import type { EnabledJail } from '../config/index.js';
import { LogFilter } from '../filter/index.js';

/**
 * Compiles the filter of each jail as the daemon will, so that a bad regex (one that cannot be
 * translated, or that can backtrack catastrophically) or a bad `logtimezone` stops `check` and
 * `start` with an InputError naming it. Returns the warnings about fail2ban's own filters, once each.
 */
export function compileJailFilters(jails: readonly Pick<EnabledJail, 'name' | 'filter' | 'usedns' | 'logtimezone'>[]): string[] {
  const warnings = new Set<string>();
  for (const jail of jails) {
    let filter: LogFilter;
    try {
      filter = new LogFilter(jail.filter, { now: nowSeconds, useDns: jail.usedns, ...(jail.logtimezone === undefined ? {} : { timeZone: jail.logtimezone }) });
    } catch (error) {
      // The filter's own errors name its file; a logtimezone is the jail's.
      if (error instanceof InputError && error.message.includes('logtimezone')) throw new InputError(`jail ${jail.name}: ${error.message}`);
      throw error;
    }
    for (const warning of filter.warnings) warnings.add(warning);
  }
  return [...warnings];
}
