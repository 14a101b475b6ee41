import { readdirSync } from 'node:fs';
import { loadFilter, SHIPPED_FILTER_DIR } from '../../src/config/index.js';

/** The filters shipped with f2b-store, by name: not the files they only include (common.conf, *-common.conf). */
export const SHIPPED_FILTERS = readdirSync(SHIPPED_FILTER_DIR)
  .filter((f) => f.endsWith('.conf') && f !== 'common.conf' && !f.endsWith('-common.conf')).map((f) => f.slice(0, -5)).sort();

/** The modes a shipped filter offers, fail2ban's way: a `mdre-<mode>` definition each, and its default. */
export function modesOf(name: string): string[] {
  const options = loadFilter(name, [SHIPPED_FILTER_DIR]).options;
  const modes = Object.keys(options).flatMap((key) => /^mdre-([a-z]+)$/.exec(key)?.[1] ?? []);
  return [...new Set([options.mode ?? 'normal', ...modes])].sort();
}
