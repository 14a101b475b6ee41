import type { Failure, LogFilter } from './log-filter.js';

/** What running a filter over a log found, counted as fail2ban-regex counts it. */
export interface FilterRun {
  readonly lines: number;
  /** Lines that completed a failure. */
  readonly matched: number;
  /** Lines an ignoreregex discarded, or that a failregex marked as no failure. */
  readonly ignored: number;
  readonly missed: number;
  /** Matches per failregex, in the filter's order. */
  readonly failregexHits: readonly number[];
  /** Matches per ignoreregex. */
  readonly ignoreregexHits: readonly number[];
  /** Date templates that read a date, with how often. */
  readonly dateHits: readonly { readonly name: string; readonly hits: number }[];
}

export type LineOutcome = 'matched' | 'ignored' | 'missed';

/** Lines with the times their source knows (the journal), by index: no date is looked for in them. */
export interface TimedLines {
  readonly lines: readonly string[];
  readonly times: readonly number[];
}

const isTimed = (batch: readonly string[] | TimedLines): batch is TimedLines => !Array.isArray(batch);

/**
 * Runs `filter` over batches of lines (of a file, or with their times), calling `each` for every
 * line with its number (from 1), its outcome and the failures it completed, and returns the counts.
 */
export async function runFilter(
  filter: LogFilter,
  batches: AsyncIterable<readonly string[] | TimedLines> | Iterable<readonly string[] | TimedLines>,
  each: (lineno: number, line: string, outcome: LineOutcome, failures: readonly Failure[]) => void = () => undefined,
): Promise<FilterRun> {
  const failregexHits = filter.definition.failregex.map(() => 0);
  const ignoreregexHits = filter.definition.ignoreregex.map(() => 0);
  let count = 0;
  let matched = 0;
  let ignored = 0;
  for await (const batch of batches) for (let i = 0, lines = isTimed(batch) ? batch.lines : batch; i < lines.length; i++) {
    const line = lines[i] as string;
    count++;
    const result = filter.processLine(line, isTimed(batch) ? batch.times[i] : undefined);
    for (const index of result.hits) failregexHits[index] = (failregexHits[index] ?? 0) + 1;
    if (result.ignoredBy !== undefined) ignoreregexHits[result.ignoredBy] = (ignoreregexHits[result.ignoredBy] ?? 0) + 1;
    let outcome: LineOutcome = 'missed';
    if (result.ignoredBy !== undefined || result.nofail) {
      outcome = 'ignored';
      ignored++;
    } else if (result.failures.length > 0) {
      outcome = 'matched';
      matched++;
    }
    each(count, line, outcome, result.failures);
  }
  return {
    lines: count, matched, ignored, missed: count - matched - ignored,
    failregexHits, ignoreregexHits, dateHits: filter.dateHits().filter((t) => t.hits > 0),
  };
}
