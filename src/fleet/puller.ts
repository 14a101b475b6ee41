import type { JailSelection } from '../config/index.js';
import { checkJailName, tryParseAddress } from '../core/index.js';
import type { FleetApplyReport, FleetEvent } from '../store/index.js';
import type { FleetEvents, PulledEvent } from './events.js';
import { PUSH_READER, selected } from './pusher.js';

/**
 * An event as f2b-store writes it: a canonical address and a jail name fit for firewall objects.
 * Anything else (a row written by hand, another program) is passed over, never stored.
 */
function wellFormed(event: FleetEvent): boolean {
  try {
    checkJailName(event.jail);
  } catch {
    return false;
  }
  return tryParseAddress(event.address)?.text === event.address;
}

/** The jails this host sends (whose own bans a lift may lift) and takes in. */
export interface FleetJails {
  readonly share: JailSelection;
  readonly accept: JailSelection;
}

/** Events taken in per SQLite transaction. */
const PULL_BATCH = 1000;

/** What the puller needs of the store: applyFleet saves the cursor with what it changed, saveFleetCursor when it changed nothing. */
export interface PullStore {
  fleetCursor(fleet: string): number | undefined;
  /** Where this store's pushed seqs start (see pushChanges): the node's events up to it are an earlier store's. */
  pushBase(reader: string): number | undefined;
  applyFleet(fleet: string, events: readonly FleetEvent[], upTo: number, now: number): FleetApplyReport;
  saveFleetCursor(fleet: string, upTo: number, now: number): void;
  liftFleetBansGone(current: readonly FleetEvent[], jails: (jail: string) => boolean, now: number): number;
}

export interface PullReport {
  readonly events: number;
  readonly banned: number;
  readonly extended: number;
  readonly lifted: number;
  /** Whether it loaded the fleet's active bans (the first pull of a host joining). */
  readonly snapshot: boolean;
}

/**
 * Takes in the other hosts' events after this host's cursor, in batches: each batch's bans (in
 * the accepted jails) and the cursor past it commit in one SQLite transaction, so a crash
 * between PostgreSQL and SQLite takes the batch in again, and applying it again changes nothing
 * (a ban extends to the same expiry; a lift finds nothing). A host with no cursor yet loads the
 * fleet's active bans and follows from where that snapshot stood, instead of replaying history;
 * so does one told to `rejoin` (the fleet forgot it: lifts after its cursor may have been pruned),
 * which also lifts the fleet bans it holds that the snapshot no longer has. The snapshot holds
 * the active bans of an earlier store under this node name too (seqs up to this store's push
 * base): a store made again takes them in as fleet bans with its node as origin, enforced and
 * lifted like any host's, not as its own, which its pusher would share again as new decisions.
 * A lift followed by this host's own ban or extension of it is passed over; this relies on the
 * pusher not running between reading the events and applying them (fleet.ts runs one after the
 * other), as what it has not pushed yet is checked in SQLite (see BanStore.applyFleet).
 */
export async function pullEvents(store: PullStore, events: FleetEvents, fleet: string, node: string, jails: FleetJails,
  now: () => number, rejoin = false): Promise<PullReport> {
  const report = { events: 0, banned: 0, extended: 0, lifted: 0, snapshot: false };
  const take = (batch: readonly PulledEvent[], upTo: number): void => {
    const taken = batch.filter((event) => selected(jails.accept, event.jail) && wellFormed(event) && !event.overtaken)
      .map((event) => (event.kind === 'lift' ? { ...event, liftsOwn: selected(jails.share, event.jail) } : event));
    const applied = store.applyFleet(fleet, taken, upTo, now());
    if (applied.banned + applied.extended + applied.lifted === 0) store.saveFleetCursor(fleet, upTo, now());
    report.events += batch.length;
    report.banned += applied.banned;
    report.extended += applied.extended;
    report.lifted += applied.lifted;
  };
  let cursor = rejoin ? undefined : store.fleetCursor(fleet);
  if (cursor === undefined) {
    const snapshot = await events.snapshot(node, now(), store.pushBase(PUSH_READER) ?? 0);
    if (rejoin) report.lifted += store.liftFleetBansGone(snapshot.events, (jail) => selected(jails.accept, jail), now());
    take(snapshot.events, snapshot.upTo);
    report.snapshot = true;
    cursor = snapshot.upTo;
  }
  for (;;) {
    const batch = await events.after(node, cursor, PULL_BATCH);
    if (batch.length === 0) break;
    cursor = (batch.at(-1) as PulledEvent).id;
    take(batch, cursor);
    if (batch.length < PULL_BATCH) break;
  }
  if (report.events > 0 || report.snapshot) await events.pulled(node, cursor);
  return report;
}
