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

/** Lines of a file each followed by its `\n`, which is not part of the line (terminatedLineBatches). */
export interface TerminatedLines {
  readonly terminated: readonly string[];
  /** Every line holds only ASCII characters. */
  readonly ascii: boolean;
}

/** One batch of lines for runFilter: plain, each with its `\n`, or with their times (named apart from the watcher's LineBatch). */
export type RunLines = readonly string[] | TimedLines | TerminatedLines;

const isPlain = (batch: RunLines): batch is readonly string[] => Array.isArray(batch);
const isTimed = (batch: RunLines): batch is TimedLines => !isPlain(batch) && 'times' in batch;

/**
 * Runs `filter` over batches of lines (of a file, alone or each with its `\n`, or with their times), calling `each` for every
 * line with its number (from 1), its outcome and the failures it completed, and returns the counts.
 */
export async function runFilter(
  filter: LogFilter,
  batches: AsyncIterable<RunLines> | Iterable<RunLines>,
  each: (lineno: number, line: string, outcome: LineOutcome, failures: readonly Failure[]) => void = () => undefined,
): Promise<FilterRun> {
  const failregexHits = filter.definition.failregex.map(() => 0);
  const ignoreregexHits = filter.definition.ignoreregex.map(() => 0);
  let count = 0;
  let matched = 0;
  let ignored = 0;
  for await (const batch of batches) {
    const times = isTimed(batch) ? batch.times : undefined;
    const terminated = !isPlain(batch) && !isTimed(batch);
    const ascii = terminated && batch.ascii;
    const lines = isPlain(batch) ? batch : isTimed(batch) ? batch.lines : batch.terminated;
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i] as string;
      const line = terminated ? text.slice(0, -1) : text;
      count++;
      const result = filter.processLine(line, times?.[i], terminated ? text : undefined, ascii);
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
  }
  return {
    lines: count, matched, ignored, missed: count - matched - ignored,
    failregexHits, ignoreregexHits, dateHits: filter.dateHits().filter((t) => t.hits > 0),
  };
}
