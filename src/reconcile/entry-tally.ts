/** What the tally reads of an entry. */
type Counted = { readonly jail: string };

/** How many entries one backend holds for one jail. */
export interface BackendJailCount {
  readonly backend: string;
  readonly jail: string;
  readonly count: number;
}

/**
 * The entries each backend holds per jail, as the daemon brought it there: set by every full
 * reconcile of the backend (what it was brought to), moved by every change applied since. No
 * backend is read for it.
 */
export class EntryTally {
  private readonly counts = new Map<string, Map<string, number>>();

  /** A full reconcile brought `backend` to `held`; a failed one (held unknown) forgets the backend until the next. */
  reconciled(backend: string, held: readonly Counted[] | undefined): void {
    if (held === undefined) {
      this.counts.delete(backend);
      return;
    }
    const jails = new Map<string, number>();
    for (const entry of held) jails.set(entry.jail, (jails.get(entry.jail) ?? 0) + 1);
    this.counts.set(backend, jails);
  }

  /** A change applied to `backend`: `was` and `will` are its represent() of the bans it touched. */
  changed(backend: string, was: readonly Counted[], will: readonly Counted[]): void {
    const jails = this.counts.get(backend);
    if (jails === undefined) return;
    for (const entry of will) jails.set(entry.jail, (jails.get(entry.jail) ?? 0) + 1);
    for (const entry of was) jails.set(entry.jail, (jails.get(entry.jail) ?? 0) - 1);
  }

  all(): BackendJailCount[] {
    return [...this.counts].flatMap(([backend, jails]) => [...jails].map(([jail, count]) => ({ backend, jail, count })));
  }
}
