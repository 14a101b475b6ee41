/**
 * fail2ban's sample-log corpus (test/fixtures/compat/fail2ban-samples.jsonl, conventions in its
 * README): the records in the order they must be fed, and the clock and time zone fail2ban's
 * test suite reads them with.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** fail2ban's test clock (2005-08-14 12:00:00 CEST), "now" for dates without a year and journal lines. */
export const COMPAT_NOW = 1124013600;
/** The zone of fail2ban's test suite; set as TZ before any date is read. */
export const COMPAT_TZ = 'CET-01CEST-02,M3.5.0,M10.5.0';

export interface SampleRecord {
  readonly seq: number;
  readonly filter: string;
  readonly instance: string;
  readonly filterOptions: Readonly<Record<string, string>> | null;
  readonly file: string;
  readonly lineno: number;
  readonly line: string;
  readonly expect: Readonly<Record<string, unknown>> & { readonly match: boolean };
  readonly epoch: number | null;
}

const CORPUS = fileURLToPath(new URL('../fixtures/compat/fail2ban-samples.jsonl', import.meta.url));

/** Every record, in `seq` order. */
export function readCompatCorpus(): SampleRecord[] {
  return readFileSync(CORPUS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SampleRecord).sort((a, b) => a.seq - b.seq);
}
