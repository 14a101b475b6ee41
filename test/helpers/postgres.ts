import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = '/usr/lib/postgresql/15/bin';
/** The port only names the socket file (.s.PGSQL.5432): nothing listens on TCP. */
const PORT = 5432;

/** A throw-away PostgreSQL 15 cluster in a temp dir, reached only through a unix socket in that dir. */
export interface PostgresCluster {
  /** The socket's directory: libpq's `host` for a unix socket. */
  readonly socketDir: string;
  readonly port: number;
  /** The postmaster's process id while it runs (the first line of postmaster.pid); its backends are its children. */
  pid(): number;
  /** A libpq URL for `user` (the superuser `postgres` by default) on `database` (`postgres` by default). */
  url(user?: string, database?: string): string;
  /** Runs SQL through psql as the superuser, on `database` (`postgres` by default); returns its unaligned output. */
  psql(sql: string, database?: string): string;
  start(): void;
  stop(): void;
  /** Stops the server and removes the directory. */
  remove(): void;
}

const clusters = new Set<PostgresCluster>();
let exitHook = false;

function asPostgres(argv: readonly string[]): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * initdb into a new temp dir (owned by the `postgres` user, as the server refuses to run as root),
 * then starts it listening on no TCP address, only on a socket in that dir. `remove()` (or the
 * test process's exit) stops it and deletes the dir.
 */
export function createPostgres(): PostgresCluster {
  const dir = mkdtempSync(join(tmpdir(), 'f2bt-pg-'));
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  let running = false;
  const user = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
  const group = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
  chownSync(dir, Number(user), Number(group));
  asPostgres([`${BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  writeFileSync(join(data, 'postgresql.auto.conf'), [
    "listen_addresses = ''",
    `unix_socket_directories = '${dir}'`,
    `port = ${PORT}`,
    'fsync = off',
    'max_connections = 50',
    '',
  ].join('\n'));
  const cluster: PostgresCluster = {
    socketDir: dir,
    port: PORT,
    pid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
    url: (role = 'postgres', database = 'postgres') => `postgresql://${role}@/${database}?host=${encodeURIComponent(dir)}&port=${PORT}`,
    psql: (sql, database = 'postgres') => asPostgres([`${BIN}/psql`, '-h', dir, '-p', String(PORT), '-U', 'postgres', '-d', database, '-XAtq', '-v', 'ON_ERROR_STOP=1', '-c', sql]),
    start: () => {
      asPostgres([`${BIN}/pg_ctl`, '-D', data, '-l', log, '-w', '-t', '60', 'start']);
      running = true;
    },
    stop: () => {
      if (!running) return;
      asPostgres([`${BIN}/pg_ctl`, '-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
    },
    remove: () => {
      clusters.delete(cluster);
      try {
        cluster.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  clusters.add(cluster);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const left of clusters) {
        try {
          left.remove();
        } catch {
          // Already stopped: the directory went with it.
        }
      }
    });
  }
  try {
    cluster.start();
  } catch (error) {
    cluster.remove();
    throw error;
  }
  return cluster;
}
