import { laterExpiry } from '../core/index.js';

/** Seconds between sweeps for entries whose ban has expired. */
const SWEEP_EVERY = 60;

/**
 * The (jail, address) pairs this daemon knows to hold an active ban, with their expiry: the bans
 * it committed or holds, and those the store showed when a decision was dropped as already
 * banned. It only ever answers "banned" where the store said so: it is emptied whenever another
 * process commits (the store's data_version moves: that may be an unban) and when an address is
 * unbanned by hand; an address not in it is simply asked of the store. Attackers keep failing
 * after their ban, and the engines skip deciding bans this view already knows of.
 */
export class BannedView {
  /** jail → address → expiry (null = permanent): a Map per jail, not per address, as a burst bans tens of thousands. */
  private readonly bans = new Map<string, Map<string, number | null>>();
  private version: number | undefined;
  private nextSweep = 0;

  /** Whether `address` holds an active ban in `jail` at `now`, as far as is known. */
  has(jail: string, address: string, now: number): boolean {
    const expiresAt = this.bans.get(jail)?.get(address);
    return expiresAt === null || (expiresAt !== undefined && expiresAt > now);
  }

  /** A ban the store holds (or the writer holds for it) now. */
  note(ban: { readonly jail: string; readonly address: string; readonly expiresAt: number | null }, now: number): void {
    if (ban.expiresAt !== null && ban.expiresAt <= now) return;
    let addresses = this.bans.get(ban.jail);
    if (addresses === undefined) this.bans.set(ban.jail, addresses = new Map());
    const known = addresses.get(ban.address);
    addresses.set(ban.address, known === undefined ? ban.expiresAt : laterExpiry(known, ban.expiresAt));
  }

  /** An address was unbanned by hand. */
  forget(address: string): void {
    for (const addresses of this.bans.values()) addresses.delete(address);
  }

  /**
   * Called before each batch with the store's data_version (undefined when it cannot be read):
   * another process's commit, or not knowing, empties the view. Expired entries go now and then.
   */
  sync(version: number | undefined, now: number): void {
    if (version === undefined || version !== this.version) this.bans.clear();
    this.version = version;
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_EVERY;
    for (const addresses of this.bans.values()) {
      for (const [address, expiresAt] of addresses) if (expiresAt !== null && expiresAt <= now) addresses.delete(address);
    }
  }
}
