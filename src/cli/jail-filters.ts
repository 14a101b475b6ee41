import { nowSeconds } from '../core/index.js';
import type { EnabledJail } from '../config/index.js';
import { LogFilter } from '../filter/index.js';

/**
 * Compiles the filter of each jail as the daemon will, so that a bad regex (one that cannot be
 * translated, or that can backtrack catastrophically) stops `check` and `start` with an
 * InputError naming its file and line. Returns the warnings about fail2ban's own filters, once each.
 */
export function compileJailFilters(jails: readonly Pick<EnabledJail, 'filter' | 'usedns' | 'logtimezone'>[]): string[] {
  const warnings = new Set<string>();
  for (const jail of jails) {
    const { logtimezone } = jail;
    const options = { now: nowSeconds, useDns: jail.usedns, ...(logtimezone === undefined ? {} : { timeZone: logtimezone }) };
    for (const warning of new LogFilter(jail.filter, options).warnings) warnings.add(warning);
  }
  return [...warnings];
}
