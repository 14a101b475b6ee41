/** fail2ban's sample-log corpus (test/fixtures/compat, described in its README): every annotated line with its expectation. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CORPUS = fileURLToPath(new URL('../fixtures/compat/fail2ban-samples.jsonl', import.meta.url));

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

/** Every record, in `seq` order (the order multi-line state carries in). */
export function readSamples(): SampleRecord[] {
  return readFileSync(CORPUS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SampleRecord).sort((a, b) => a.seq - b.seq);
}
