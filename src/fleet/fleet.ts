import type pg from 'pg';
import type { FleetConfig } from '../config/index.js';
import { messageOf, nowSeconds } from '../core/index.js';
import { isDamaged } from '../store/index.js';
import { connect, fleetName } from './connection.js';
import { FleetEvents } from './events.js';
import { migrateFleet } from './migrations.js';
import { pullEvents, type PullStore } from './puller.js';
import { pushChanges, type PushStore } from './pusher.js';

/** How often this host's change log is looked at for something to push (one indexed read). */
const PUSH_POLL_MS = 200;
/** How often the puller asks PostgreSQL without being woken by NOTIFY (a notification lost with its connection). */
const PULL_POLL_MS = 15_000;
/** Waits between attempts to reach PostgreSQL again: doubling from the first to the last. */
const RETRY_FIRST_MS = 1000;
const RETRY_LAST_MS = 30_000;
/** How often events nobody needs any more are deleted (see FleetEvents.prune). */
const PRUNE_EVERY_MS = 3_600_000;
/** The channel events_notify() (schema/fleet/001_events.sql) notifies, with the schema as payload. */
const CHANNEL = 'f2b_store_fleet';

export interface FleetOptions {
  readonly config: FleetConfig;
  /**
   * The daemon's own store connection: the pusher reads the change log and moves its cursor
   * there, which the daemon, on the same connection, does not take for another process's write.
   */
  readonly outbox: PushStore & Pick<PullStore, 'fleetCursor' | 'saveFleetCursor'>;
  /** A connection of the fleet's own (changes written as 'fleet'): the daemon takes in what it writes as another process's changes. */
  readonly inbox: Pick<PullStore, 'applyFleet'>;
  /** Pulled events changed the store: the daemon takes them in now instead of at its next tick. */
  readonly changed: () => void;
  readonly log: (line: string) => void;
  readonly clock?: () => number;
}

export interface Fleet {
  /** Ends the fleet's connection; what is not pushed yet is pushed at the next start. */
  stop(): Promise<void>;
}

/** An error from SQLite (better-sqlite3's SqliteError codes, or a damaged file): this round is skipped, the connection to PostgreSQL kept. */
function fromSqlite(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (typeof code === 'string' && code.startsWith('SQLITE_')) || isDamaged(error);
}

/**
 * Runs the fleet beside the daemon until stopped: connects, migrates the fleet's tables, then
 * pushes this host's changes as they come and pulls the others' when PostgreSQL notifies (or
 * every PULL_POLL_MS). Nothing here ever waits in the daemon's way: banning goes on in SQLite,
 * and with PostgreSQL unreachable this host goes on alone, trying again with back-off, and
 * catches up (both ways) when it answers again.
 */
export function startFleet(options: FleetOptions): Fleet {
  const { config, log } = options;
  const clock = options.clock ?? nowSeconds;
  const name = fleetName(config);
  let stopped = false;
  let client: pg.Client | undefined;
  let wake: (() => void) | undefined;
  let pullWanted = true;
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  const nudge = (): void => wake?.();
  // Bans go in through the fleet's connection; a cursor alone, through the daemon's (see BanStore.applyFleet).
  const pullStore: PullStore = {
    fleetCursor: (fleet) => options.outbox.fleetCursor(fleet),
    saveFleetCursor: (fleet, upTo, now) => options.outbox.saveFleetCursor(fleet, upTo, now),
    applyFleet: (fleet, batch, upTo, now) => options.inbox.applyFleet(fleet, batch, upTo, now),
  };

  const round = async (events: FleetEvents, lastPull: number): Promise<number> => {
    try {
      await pushChanges(options.outbox, events, config.node, config.share, clock);
      if (!pullWanted && Date.now() - lastPull < PULL_POLL_MS) return lastPull;
      pullWanted = false;
      const pulled = await pullEvents(pullStore, events, name, config.node, config.accept, clock);
      if (pulled.banned + pulled.extended + pulled.lifted > 0) {
        options.changed();
        log(`fleet: took in ${pulled.events} event${pulled.events === 1 ? '' : 's'}${pulled.snapshot ? ' (the fleet\'s active bans, joining)' : ''}: `
          + `${pulled.banned} banned, ${pulled.extended} extended, ${pulled.lifted} lifted`);
      }
      return Date.now();
    } catch (error) {
      if (!fromSqlite(error)) throw error;
      // The daemon or a CLI call holds the write lock, or the file is damaged (said by the daemon):
      // next round, which also pulls what this one may have been woken for (not at the slow poll).
      pullWanted = true;
      return lastPull;
    }
  };

  /** One connection's life: `connected` is called once it follows the fleet. */
  const session = async (connected: () => void): Promise<void> => {
    client = await connect(config);
    let broken = false;
    client.on('error', () => {
      broken = true;
      nudge();
    });
    client.on('end', () => {
      broken = true;
      nudge();
    });
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload === config.schema) {
        pullWanted = true;
        nudge();
      }
    });
    const migrated = await migrateFleet(client, config.schema);
    if (migrated.applied.length > 0) log(`fleet: ${name}: tables made or upgraded (${migrated.applied.join(', ')})`);
    const events = new FleetEvents(client, config.schema);
    await events.join(config.node);
    await client.query(`LISTEN ${CHANNEL}`);
    log(`fleet: connected to ${name} as node ${config.node}`);
    connected();
    pullWanted = true;
    let lastPull = 0;
    let lastPrune = 0;
    while (!stopped && !broken) {
      lastPull = await round(events, lastPull);
      if (Date.now() - lastPrune >= PRUNE_EVERY_MS) {
        lastPrune = Date.now();
        const pruned = await events.prune(clock());
        if (pruned > 0) log(`fleet: deleted ${pruned} event${pruned === 1 ? '' : 's'} of bans that ended everywhere`);
      }
      if (!stopped && !broken) await sleep(PUSH_POLL_MS);
    }
    if (broken && !stopped) throw new Error('the connection was lost');
  };

  const run = async (): Promise<void> => {
    let retry = RETRY_FIRST_MS;
    let told = false;
    while (!stopped) {
      try {
        await session(() => {
          told = false;
          retry = RETRY_FIRST_MS;
        });
      } catch (error) {
        if (!stopped && !told) log(`fleet: ${messageOf(error)}; this host goes on alone (its changes wait to be pushed), trying again with back-off`);
        told = true;
      } finally {
        await client?.end().catch(() => undefined);
        client = undefined;
      }
      if (stopped) break;
      await sleep(retry);
      retry = Math.min(retry * 2, RETRY_LAST_MS);
    }
  };
  const running = run();
  return {
    stop: async () => {
      stopped = true;
      nudge();
      await client?.end().catch(() => undefined);
      await running;
    },
  };
}
