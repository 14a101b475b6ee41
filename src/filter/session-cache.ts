/** A renewed Map after this many deletions. */
const RENEW_AFTER_DELETES = 100;

/**
 * fail2ban's cache of `<F-MLFID>` sessions: at most `limit` entries, the oldest dropped first,
 * each kept for `seconds` after it began.
 *
 * The Map is replaced by a copy every so many deletions. V8 links each hash table a Map has
 * outgrown to its successor (for iterators still on the old one): once one table of a long-lived
 * Map is in the old generation, every later table, with every session it held, is kept alive
 * by that link until the next full collection, so each young-generation collection copied and
 * promoted them (over a million-line log, 150 MB promoted and a fifth of the CPU in the collector).
 */
export class SessionCache<T> {
  private entries = new Map<string, { readonly at: number; readonly value: T }>();
  private deletes = 0;

  constructor(private readonly limit: number, private readonly seconds: number) {}

  get(id: string): T | undefined {
    return this.entries.get(id)?.value;
  }

  /** Adds a session begun at `now`, dropping the oldest beyond the limit. */
  add(id: string, value: T, now: number): void {
    this.entries.set(id, { at: now, value });
    while (this.entries.size > this.limit) this.delete(this.entries.keys().next().value as string);
  }

  delete(id: string): void {
    if (!this.entries.delete(id)) return;
    if (++this.deletes < RENEW_AFTER_DELETES) return;
    this.entries = new Map(this.entries);
    this.deletes = 0;
  }

  /** Drops the sessions begun `seconds` or more before `now`. */
  expire(now: number): void {
    for (;;) {
      const oldest = this.entries.entries().next();
      if (oldest.done === true || oldest.value[1].at > now - this.seconds) return;
      this.delete(oldest.value[0]);
    }
  }
}
