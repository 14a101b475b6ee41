import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * fail2ban's sample logs as data (test/fixtures/compat/fail2ban-samples.jsonl; its README says
 * what each field means), and the clock and zone fail2ban's sample test reads them under.
 */
export const SAMPLES_TZ = 'CET-01CEST-02,M3.5.0,M10.5.0';
export const SAMPLES_NOW = 1124013600;

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

/**
 * Every record, in the order fail2ban's test feeds them: of fail2ban 1.0.2 (Debian 12's), or of
 * another corpus in test/fixtures/compat (fail2ban-upstream-samples.jsonl: fail2ban's newest).
 */
export function readSampleRecords(file = 'fail2ban-samples.jsonl'): SampleRecord[] {
  const corpus = fileURLToPath(new URL(`../fixtures/compat/${file}`, import.meta.url));
  return readFileSync(corpus, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SampleRecord)
    .sort((a, b) => a.seq - b.seq);
}
