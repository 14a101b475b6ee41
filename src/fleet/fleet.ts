import type pg from 'pg';
import type { FleetConfig } from '../config/index.js';
import { messageOf, nowSeconds, type Log } from '../core/index.js';
import { isDamaged } from '../store/index.js';
import { connect, fleetName } from './connection.js';
import { FleetEvents } from './events.js';
import { migrateFleet } from './migrations.js';
import { pullEvents, type PullStore } from './puller.js';
import { pushChanges, type PushStore } from './pusher.js';

/**
 * How often this host's change log is looked at for something to push when nothing said so: the
 * daemon wakes the pusher after its own writes (Fleet.pushNow), so this only finds other
 * processes' (a CLI ban, an import).
 */
const PUSH_POLL_MS = 5000;
/** How soon a round SQLite was too busy for is tried again. */
const SQLITE_BUSY_RETRY_MS = 250;
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
  readonly outbox: PushStore & Pick<PullStore, 'fleetCursor' | 'saveFleetCursor' | 'pushBase'>;
  /** A connection of the fleet's own (changes written as 'fleet'): the daemon takes in what it writes as another process's changes. */
  readonly inbox: Pick<PullStore, 'applyFleet' | 'liftFleetBansGone'>;
  /** Pulled events changed the store: the daemon takes them in now instead of at its next tick. */
  readonly changed: () => void;
  readonly log: Log;
  readonly clock?: () => number;
}

export interface Fleet {
  /** This host's change log just grew: push now rather than at the next look (PUSH_POLL_MS). */
  pushNow(): void;
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
 * every [fleet] poll). Nothing here ever waits in the daemon's way: banning goes on in SQLite,
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
  let pushWanted = true;
  const pollMs = Math.min(config.poll * 1000, 2 ** 31 - 1);
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
    pushBase: (reader) => options.outbox.pushBase(reader),
    saveFleetCursor: (fleet, upTo, now) => options.outbox.saveFleetCursor(fleet, upTo, now),
    applyFleet: (fleet, batch, upTo, now) => options.inbox.applyFleet(fleet, batch, upTo, now),
    liftFleetBansGone: (current, jails, now) => options.inbox.liftFleetBansGone(current, jails, now),
  };

  /** The fleet forgot this host: its next pull loads the active bans again (see pullEvents). */
  let rejoin = false;
  /** Pushes, and pulls when told or due; returns when it last pulled, or undefined when SQLite was busy (tried again shortly). */
  const round = async (events: FleetEvents, lastPull: number): Promise<number | undefined> => {
    const pulling = pullWanted || Date.now() - lastPull >= pollMs;
    pushWanted = false;
    pullWanted = false;
    try {
      await pushChanges(options.outbox, events, config.node, config.share, clock);
      if (!pulling) return lastPull;
      const pulled = await pullEvents(pullStore, events, name, config.node, config, clock, rejoin);
      rejoin = false;
      if (pulled.banned + pulled.extended + pulled.lifted > 0) {
        options.changed();
        log(`fleet: took in ${pulled.events} event${pulled.events === 1 ? '' : 's'}${pulled.snapshot ? ' (the fleet\'s active bans, joining)' : ''}: `
          + `${pulled.banned} banned, ${pulled.extended} extended, ${pulled.lifted} lifted`);
      }
      return Date.now();
    } catch (error) {
      if (!fromSqlite(error)) throw error;
      // The daemon or a CLI call holds the write lock, or the file is damaged (said by the daemon).
      pushWanted = true;
      pullWanted ||= pulling;
      return undefined;
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
    if (migrated.applied.length > 0) log(`fleet: ${name}: tables made or upgraded (${migrated.applied.join(', ')})`, 'notice');
    const events = new FleetEvents(client, config.schema);
    if (await events.join(config.node) && options.outbox.fleetCursor(name) !== undefined) {
      rejoin = true;
      log(`fleet: ${name} had forgotten this host (fleet forget, or [fleet] forgetafter): loading the fleet's active bans again`, 'warning');
    }
    await client.query(`LISTEN ${CHANNEL}`);
    log(`fleet: connected to ${name} as node ${config.node}`, 'notice');
    connected();
    pullWanted = true;
    let lastPull = 0;
    let lastPrune = 0;
    while (!stopped && !broken) {
      const pulledAt = await round(events, lastPull);
      if (pulledAt === undefined) {
        await sleep(SQLITE_BUSY_RETRY_MS);
        continue;
      }
      lastPull = pulledAt;
      if (Date.now() - lastPrune >= PRUNE_EVERY_MS) {
        lastPrune = Date.now();
        // Seen, however idle: a host is forgotten only when it stays away.
        await events.join(config.node);
        if (config.forgetAfter !== null) {
          const forgotten = await events.forgetUnseen(config.node, config.forgetAfter);
          if (forgotten.length > 0) log(`fleet: forgot ${forgotten.join(', ')}, unseen for longer than [fleet] forgetafter: pruning no longer waits for them`);
        }
        const pruned = await events.prune(clock());
        if (pruned > 0) log(`fleet: deleted ${pruned} event${pruned === 1 ? '' : 's'} of bans lifted or ended everywhere`);
      }
      if (!stopped && !broken && !pushWanted && !pullWanted) await sleep(Math.min(PUSH_POLL_MS, Math.max(0, lastPull + pollMs - Date.now())));
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
        if (!stopped && !told) log(`fleet: ${messageOf(error)}; this host goes on alone (its changes wait to be pushed), trying again with back-off`, 'error');
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
    pushNow: () => {
      pushWanted = true;
      nudge();
    },
    stop: async () => {
      stopped = true;
      nudge();
      await client?.end().catch(() => undefined);
      await running;
    },
  };
}
