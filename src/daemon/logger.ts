import { logs, monotonicMs, type Log, type LogEntry, type LogLevel, type LogTarget } from '../core/index.js';
import { openLogWriter, type WriterOptions } from './log-targets.js';
import { RepeatLimiter } from './log-repeats.js';

/** How often the counts of repeated lines whose window ended are written. */
const REPEATS_TOLD_EVERY_MS = 1000;

/** The daemon's log: lines below `level` are dropped, a flood of identical problems is counted (see RepeatLimiter). */
export interface Logger {
  readonly log: Log;
  /** Several lines in one write (a burst's Ban lines). */
  readonly logLines: (entries: readonly LogEntry[]) => void;
  /** Writes the counts not told yet and closes the target. */
  close(): void;
}

export interface LoggerOptions extends WriterOptions {
  readonly level: LogLevel;
  readonly target: LogTarget;
  /** Wall clock, ms (the lines' time stamps). */
  readonly now?: () => number;
  /** Monotonic clock, ms (repeat windows). */
  readonly monotonic?: () => number;
}

export async function createLogger(options: LoggerOptions): Promise<Logger> {
  const writer = await openLogWriter(options.target, options);
  const now = options.now ?? Date.now;
  const repeats = new RepeatLimiter(options.monotonic ?? monotonicMs);
  const write = (entries: readonly LogEntry[]): void => writer.write(entries, now());
  const logLines = (entries: readonly LogEntry[]): void => {
    const kept: LogEntry[] = [];
    for (const entry of entries) {
      if (logs(entry.level, options.level)) kept.push(...repeats.admit(entry));
    }
    write(kept);
  };
  const timer = setInterval(() => write(repeats.due()), REPEATS_TOLD_EVERY_MS);
  timer.unref();
  return {
    log: (text, level = 'info') => logLines([{ level, text }]),
    logLines,
    close: () => {
      clearInterval(timer);
      write(repeats.drain());
      writer.close();
    },
  };
}
