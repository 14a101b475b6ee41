import type { LogEntry } from '../core/index.js';
import { SYSLOG_SEVERITY } from '../core/index.js';

/** Identical problem lines after the first are counted for this long, then told as one line. */
export const REPEAT_WINDOW_MS = 60_000;
/** Distinct lines counted at once; past that, new ones are written as they come. */
const MAX_TRACKED = 1000;

interface Repeats {
  readonly entry: LogEntry;
  since: number;
  repeated: number;
}

/**
 * Keeps a flood of identical warnings and errors (a log file that cannot be read, a firewall
 * command failing on every tick) to its first line and one count a window:
 * `… (repeated 532 times in the last 60 s)`. Lines below warning are never held: they differ
 * (a ban names its address) or are rare.
 */
export class RepeatLimiter {
  private readonly seen = new Map<string, Repeats>();

  /** `clock`: monotonic milliseconds. */
  constructor(private readonly clock: () => number, private readonly windowMs = REPEAT_WINDOW_MS) {}

  /** What to write for this line now: itself, nothing while it repeats, or the count of its ended window (it starts the next). */
  admit(entry: LogEntry): LogEntry[] {
    if (SYSLOG_SEVERITY[entry.level] > SYSLOG_SEVERITY.warning) return [entry];
    const now = this.clock();
    const key = `${entry.level} ${entry.text}`;
    const known = this.seen.get(key);
    if (!known) {
      if (this.seen.size < MAX_TRACKED) this.seen.set(key, { entry, since: now, repeated: 0 });
      return [entry];
    }
    if (now - known.since < this.windowMs) {
      known.repeated += 1;
      return [];
    }
    const told = known.repeated > 0 ? this.count(known, now) : entry;
    known.since = now;
    known.repeated = known.repeated > 0 ? 1 : 0;
    return [told];
  }

  /** The counts of windows that ended; a line still repeating is counted on in a new window, one gone quiet is forgotten. */
  due(): LogEntry[] {
    const now = this.clock();
    const told: LogEntry[] = [];
    for (const [key, repeats] of this.seen) {
      if (now - repeats.since < this.windowMs) continue;
      if (repeats.repeated === 0) {
        this.seen.delete(key);
        continue;
      }
      told.push(this.count(repeats, now));
      repeats.since = now;
      repeats.repeated = 0;
    }
    return told;
  }

  /** Every count not told yet (the daemon stops). */
  drain(): LogEntry[] {
    const now = this.clock();
    const told = [...this.seen.values()].filter((r) => r.repeated > 0).map((r) => this.count(r, now));
    this.seen.clear();
    return told;
  }

  private count(repeats: Repeats, now: number): LogEntry {
    const seconds = Math.round((now - repeats.since) / 1000);
    const times = `${repeats.repeated} time${repeats.repeated === 1 ? '' : 's'}`;
    return { level: repeats.entry.level, text: `${repeats.entry.text} (repeated ${times} in the last ${seconds} s)` };
  }
}
