import type { JailSelection } from '../config/index.js';
import { FLEET_PUSHER, type ChangeQuery, type StoredBan, type StoredChange } from '../store/index.js';
import type { FleetEvents } from './events.js';

/** The pusher's name among the change log's readers: changes it has not pushed are kept for it. */
export const PUSH_READER = FLEET_PUSHER;
/** Changes pushed per statement. */
const PUSH_BATCH = 1000;

/** What the pusher needs of the store: this host's change log and its reader's cursor there. */
export interface PushStore {
  latestChange(): number;
  changesAfter(query: ChangeQuery): readonly StoredChange[];
  changeReader(reader: string): number | undefined;
  activeOwn(now: number): readonly StoredBan[];
  /** activeOwn's count, in `jails` only when given. */
  countActiveOwn(now: number, jails?: readonly string[]): number;
  pushBase(reader: string): number | undefined;
  savePushBase(reader: string, base: number): void;
  /** Deletes nothing: the daemon, whose cursor may not be saved yet, prunes when it advances. */
  markChangeReader(reader: string, after: number, now: number): void;
}

export const selected = (selection: JailSelection, jail: string): boolean => selection === 'all' || selection.includes(jail);

/**
 * Pushes this host's changes after the pusher's cursor: its own decisions (origin null; what it
 * took from the fleet is not sent back) in the shared jails. The cursor moves only after
 * PostgreSQL has them, so a crash in between pushes them again, which inserts nothing twice
 * (unique origin and seq). A pusher that never ran shares the host's active bans and starts at
 * the latest change: an operator adding a fleet to a host expects its bans to be shared, but not
 * its history replayed. Returns how many events were new in PostgreSQL.
 *
 * An event's seq is the change id plus the store's base: the highest seq the fleet held for this
 * node when the store joined. A store made again under a known node name (a disk replaced, a
 * reinstall) numbers its changes from 1 again; without the base its events would collide with
 * the old store's and be dropped. The base is saved before anything is pushed: a crash before
 * saving it pushed nothing (read again, it is the same), one after it pushes again under the
 * same seqs. Saved with the cursor instead, a crash between the share and the save would read a
 * higher base next time and share every ban twice.
 */
export async function pushChanges(store: PushStore, events: FleetEvents, node: string, share: JailSelection, now: () => number): Promise<number> {
  let cursor = store.changeReader(PUSH_READER);
  let base = store.pushBase(PUSH_READER);
  let pushed = 0;
  if (cursor === undefined) {
    if (base === undefined) {
      base = await events.highestSeq(node);
      store.savePushBase(PUSH_READER, base);
    }
    // Read first: a ban made meanwhile is then both active and after the cursor, sent twice rather than never.
    cursor = store.latestChange();
    pushed += await pushActive(store, events, node, share, now(), base, cursor);
    store.markChangeReader(PUSH_READER, cursor, now());
  }
  // A store whose pusher ran before bases were kept was the node's first.
  base ??= 0;
  for (;;) {
    const latest = store.latestChange();
    if (latest <= cursor) return pushed;
    const changes = store.changesAfter({ after: cursor, upTo: latest, except: '', limit: PUSH_BATCH });
    const upTo = changes.length === PUSH_BATCH ? (changes.at(-1) as StoredChange).id : latest;
    const own = changes.filter((change) => change.origin === null && selected(share, change.jail)).map((change) => ({ ...change, id: base + change.id }));
    if (own.length > 0) pushed += await events.push(node, own, base + upTo);
    store.markChangeReader(PUSH_READER, upTo, now());
    cursor = upTo;
  }
}

/**
 * This host's active bans in the shared jails, as ban events: their seq is minus the base plus
 * the ban's row id (change seqs are positive), the same when the rows are read again after a
 * crash, so pushing them again inserts nothing twice.
 */
async function pushActive(store: PushStore, events: FleetEvents, node: string, share: JailSelection, now: number, base: number, upTo: number): Promise<number> {
  const active: StoredChange[] = store.activeOwn(now).filter(({ ban }) => selected(share, ban.jail)).map(({ id, ban }) => ({
    id: -(base + id), kind: 'ban', address: ban.address, jail: ban.jail, expiresAt: ban.expiresAt, previousExpiresAt: null, forced: ban.forced,
    source: ban.source, at: ban.bannedAt, writer: '', origin: null,
  }));
  let pushed = 0;
  for (let at = 0; at < active.length; at += PUSH_BATCH) pushed += await events.push(node, active.slice(at, at + PUSH_BATCH), base + upTo);
  return pushed;
}

/** How many of this host's changes wait to be pushed (fleet status). */
export function pushBacklog(store: PushStore, share: JailSelection, now: number): number {
  const cursor = store.changeReader(PUSH_READER);
  // Not joined yet: its first push shares the bans active here (pushActive).
  if (cursor === undefined) return store.countActiveOwn(now, share === 'all' ? undefined : share);
  const latest = store.latestChange();
  let waiting = 0;
  for (let after = cursor; after < latest;) {
    const changes = store.changesAfter({ after, upTo: latest, except: '', limit: 10_000 });
    if (changes.length === 0) break;
    waiting += changes.filter((change) => change.origin === null && selected(share, change.jail)).length;
    after = (changes.at(-1) as StoredChange).id;
  }
  return waiting;
}
