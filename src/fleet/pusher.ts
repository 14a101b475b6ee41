import type { JailSelection } from '../config/index.js';
import { FLEET_PUSHER, type ChangeQuery, type StoredChange } from '../store/index.js';
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
  /** Deletes nothing: the daemon, whose cursor may not be saved yet, prunes when it advances. */
  markChangeReader(reader: string, after: number, now: number): void;
}

export const selected = (selection: JailSelection, jail: string): boolean => selection === 'all' || selection.includes(jail);

/**
 * Pushes this host's changes after the pusher's cursor: its own decisions (origin null; what it
 * took from the fleet is not sent back) in the shared jails. The cursor moves only after
 * PostgreSQL has them, so a crash in between pushes them again, which inserts nothing twice
 * (unique origin and seq). A pusher that never ran starts at the latest change: what was decided
 * before the host joined stays local. Returns how many events were new in PostgreSQL.
 */
export async function pushChanges(store: PushStore, events: FleetEvents, node: string, share: JailSelection, now: () => number): Promise<number> {
  let cursor = store.changeReader(PUSH_READER);
  if (cursor === undefined) {
    cursor = store.latestChange();
    store.markChangeReader(PUSH_READER, cursor, now());
  }
  let pushed = 0;
  for (;;) {
    const latest = store.latestChange();
    if (latest <= cursor) return pushed;
    const changes = store.changesAfter({ after: cursor, upTo: latest, except: '', limit: PUSH_BATCH });
    const upTo = changes.length === PUSH_BATCH ? (changes.at(-1) as StoredChange).id : latest;
    const own = changes.filter((change) => change.origin === null && selected(share, change.jail));
    if (own.length > 0) pushed += await events.push(node, own, upTo);
    store.markChangeReader(PUSH_READER, upTo, now());
    cursor = upTo;
  }
}

/** How many of this host's changes wait to be pushed (fleet status). */
export function pushBacklog(store: PushStore, share: JailSelection): number {
  const cursor = store.changeReader(PUSH_READER);
  if (cursor === undefined) return 0;
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
