import type { FleetConfig } from '../config/index.js';
import { messageOf } from '../core/index.js';
import { connect, fleetName } from './connection.js';
import { FleetEvents, type FleetHost } from './events.js';
import { pushBacklog, type PushStore } from './pusher.js';

/** What `f2b-store fleet status` reports. */
export interface FleetStatus {
  readonly fleet: string;
  readonly node: string;
  readonly reachable: boolean;
  /** Why PostgreSQL could not be asked, when it could not. */
  readonly error: string | null;
  /** How long connecting and asking took, ms. */
  readonly latencyMs: number | null;
  readonly hosts: readonly FleetHost[];
  /** This host's changes not yet in PostgreSQL. */
  readonly pushBacklog: number;
  /** Other hosts' events this host has not taken in yet (null when PostgreSQL could not be asked or it never pulled). */
  readonly pullLag: { readonly events: number; readonly seconds: number } | null;
  /** The event id this host's puller stands at; null before its first pull. */
  readonly pulledUpTo: number | null;
}

/** Asks PostgreSQL (and this host's store) where the fleet stands; PostgreSQL unreachable is a report, not an error. */
export async function fleetStatus(config: FleetConfig, store: PushStore & { fleetCursor(fleet: string): number | undefined }, now: number): Promise<FleetStatus> {
  const fleet = fleetName(config);
  const pulledUpTo = store.fleetCursor(fleet) ?? null;
  const local = { fleet, node: config.node, pushBacklog: pushBacklog(store, config.share, now), pulledUpTo };
  const started = performance.now();
  try {
    const client = await connect(config);
    try {
      const events = new FleetEvents(client, config.schema);
      const hosts = await events.hostList();
      const lag = pulledUpTo === null ? null : await events.lag(config.node, pulledUpTo);
      return {
        ...local, reachable: true, error: null, latencyMs: Math.round(performance.now() - started), hosts,
        pullLag: lag === null ? null : { events: lag.events, seconds: lag.oldest === null ? 0 : Math.max(0, now - Math.floor(lag.oldest.getTime() / 1000)) },
      };
    } finally {
      await client.end().catch(() => undefined);
    }
  } catch (error) {
    return { ...local, reachable: false, error: messageOf(error), latencyMs: null, hosts: [], pullLag: null };
  }
}
