import { readFileSync } from 'node:fs';
import pg from 'pg';
import { parse, type ConnectionOptions } from 'pg-connection-string';
import pgpass from 'pgpass';
import type { FleetConfig } from '../config/index.js';
import { InputError, messageOf, OperationError } from '../core/index.js';

/** How long a connection attempt may take before it counts as PostgreSQL unreachable. */
const CONNECT_TIMEOUT_MS = 5000;

/** The TLS options libpq's sslmode and sslrootcert stand for, as node's tls takes them. */
function tlsOf(sslmode: string, rootcert: string | undefined, where: string): pg.ClientConfig['ssl'] {
  if (sslmode === 'disable') return false;
  if (sslmode === 'prefer' || sslmode === 'require' || sslmode === 'no-verify') return { rejectUnauthorized: false };
  if (rootcert === undefined) throw new InputError(`${where}: sslmode ${sslmode} needs sslrootcert (the CA that signed the server's certificate)`);
  let ca: string;
  try {
    ca = readFileSync(rootcert, 'utf8');
  } catch (error) {
    throw new InputError(`${where}: cannot read sslrootcert ${rootcert}: ${messageOf(error)}`);
  }
  // verify-ca checks the chain only, as libpq does; verify-full also the host name.
  return sslmode === 'verify-ca' ? { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } : { ca, rejectUnauthorized: true };
}

/** The first line of `path`: a password kept out of f2b-store.conf. */
function passwordFrom(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n')[0]?.trimEnd() ?? '';
  } catch (error) {
    throw new OperationError(`[fleet] passwordfile: cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * pg's client settings for `config`: the URL first, its parts over it; the password from
 * `passwordfile`, the URL, or else PGPASSFILE/~/.pgpass (libpq's order), read at each connection.
 */
export function clientConfig(config: FleetConfig): pg.ClientConfig {
  const fromUrl: Partial<ConnectionOptions> = config.url === '' ? {} : parse(config.url);
  const host = config.host ?? fromUrl.host ?? undefined;
  const port = config.port ?? (fromUrl.port ? Number(fromUrl.port) : undefined);
  const database = config.dbname ?? fromUrl.database ?? undefined;
  const user = config.user ?? fromUrl.user ?? undefined;
  const sslmode = config.sslmode ?? (fromUrl as { sslmode?: string }).sslmode;
  const ssl = sslmode === undefined ? fromUrl.ssl : tlsOf(sslmode, config.sslrootcert ?? (fromUrl as { sslrootcert?: string }).sslrootcert, '[fleet]');
  const urlPassword = fromUrl.password === undefined || fromUrl.password === '' ? undefined : fromUrl.password;
  const password = async (): Promise<string> => {
    if (config.passwordFile !== undefined) return passwordFrom(config.passwordFile);
    if (urlPassword !== undefined) return urlPassword;
    return new Promise((resolve) => pgpass({ host, port, database, user }, (found) => resolve(found ?? '')));
  };
  return {
    ...(host === undefined ? {} : { host }),
    ...(port === undefined ? {} : { port }),
    ...(database === undefined ? {} : { database }),
    ...(user === undefined ? {} : { user }),
    ...(ssl === undefined ? {} : { ssl: ssl as pg.ClientConfig['ssl'] }),
    password,
    application_name: `f2b-store ${config.node}`,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
  };
}

/** Where `config` connects, for messages and for naming this fleet's cursor: host/database, schema. */
export function fleetName(config: FleetConfig): string {
  const settings = clientConfig(config);
  return `${settings.host ?? 'localhost'}:${settings.port ?? 5432}/${settings.database ?? settings.user ?? ''} ${config.schema}`;
}

/** A connected client, or an OperationError naming where it tried to connect. */
export async function connect(config: FleetConfig): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(config));
  // An error on an idle connection (the server went away) would otherwise be thrown at the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw new OperationError(`PostgreSQL at ${fleetName(config)} is unreachable: ${messageOf(error)}`, { cause: error });
  }
  return client;
}
