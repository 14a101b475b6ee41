import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import ini from 'ini';
import {
  DEFAULT_LOCKOUT_FLOOR, InputError, MAX_DURATION, OperationError, messageOf, parseDuration, parseListenAddress, parseLogLevel, tryParseAddress,
  type Address, type Duration, type ListenAddress, type LockoutFloor, type LogLevel, type LogTarget,
} from '../core/index.js';
import { didYouMean } from './did-you-mean.js';
import { parseIni, type IniFile } from './ini-file.js';

export const DEFAULT_CONFIG_DIR = '/etc/f2b-store';
export const DEFAULT_DB_PATH = '/var/lib/f2b-store/f2b-store.sqlite3';

/**
 * What the configuration knows of the backends: their registry's (backends' BACKEND_CATALOG),
 * passed in, as config reads no other layer.
 */
export interface BackendCatalog {
  /** The names `[reconcile] backends` and `--backend` may use. */
  readonly names: readonly string[];
  /** The backend doing natively what fail2ban's stock action `action` does, if one does. */
  nativeOf(action: string): string | undefined;
}

/** `f2b-store.conf` (+ `.local`): the store's and the reconciler's settings. */
export interface StoreConfig {
  readonly dbfile: string;
  /** Ended bans older than this many seconds are purged; null keeps history forever. */
  readonly historyAge: Duration;
  readonly backends: readonly string[];
  readonly schedule: string;
  /** Seconds between full read-back checks; the scheduled ticks between them check structure and entry counts. */
  readonly fullCheck: number;
  readonly hostsDenyFile: string;
  readonly hostsDenyDaemons: string;
  /** The daemon's log of bans and lifts (the `recidive` filter reads it); empty = none. */
  readonly logFile: string;
  /** The daemon's own log: the least level written, and where it goes. */
  readonly logLevel: LogLevel;
  readonly logTarget: LogTarget;
  /** What is never banned without `ban --force`, by the CLI, the daemon's jails and the reconciler alike. */
  readonly lockout: LockoutFloor;
  /** `[fleet]`: sharing bans with other hosts through PostgreSQL; absent when the section is. */
  readonly fleet?: FleetConfig;
  /** `[metrics] listen`: where the daemon serves /metrics (Prometheus); absent = off. */
  readonly metrics?: ListenAddress;
}

/** Which jails a fleet shares or accepts: every jail (`all`), or those named (`manual` is a jail like any other). */
export type JailSelection = 'all' | readonly string[];

/**
 * `[fleet]`: where the fleet's PostgreSQL is and what this host shares with it. The connection
 * is libpq's: a URL (`postgresql://user@host/db?sslmode=verify-full&sslrootcert=…`) and/or its
 * parts; the password comes from `passwordfile` or from PGPASSFILE/~/.pgpass, never from this file.
 */
export interface FleetConfig {
  /** A libpq connection URL; '' when only parts are given. */
  readonly url: string;
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
  readonly user?: string;
  /** A file holding the password (its first line). */
  readonly passwordFile?: string;
  readonly sslmode?: string;
  readonly sslrootcert?: string;
  /** This host's name in the fleet (the origin of what it shares): the host name by default. */
  readonly node: string;
  /** The jails whose bans this host pushes to the fleet. */
  readonly share: JailSelection;
  /** The jails whose bans this host takes from the other hosts. */
  readonly accept: JailSelection;
  /** The PostgreSQL schema holding the fleet's tables. */
  readonly schema: string;
  /** Seconds between pulls without a NOTIFY (one lost with its connection): the fallback. */
  readonly poll: number;
  /** Seconds a host may go unseen before pruning stops waiting for it (it is forgotten); null = never. */
  readonly forgetAfter: number | null;
}

export const FLEET_KEYS = ['url', 'host', 'port', 'dbname', 'user', 'passwordfile', 'sslmode', 'sslrootcert', 'node', 'share', 'accept', 'schema', 'poll', 'forgetafter'] as const;
const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];
const FLEET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export const DEFAULT_STORE_CONFIG: StoreConfig = {
  dbfile: DEFAULT_DB_PATH,
  historyAge: 365 * 86400,
  backends: ['nftables'],
  schedule: '*/10 * * * * *',
  fullCheck: 300,
  hostsDenyFile: '/etc/hosts.deny',
  hostsDenyDaemons: 'ALL',
  logFile: '/var/log/f2b-store/f2b-store.log',
  logLevel: 'info',
  logTarget: { kind: 'stderr' },
  lockout: DEFAULT_LOCKOUT_FLOOR,
};

type Sections = Record<string, Record<string, unknown> | undefined>;

/** Every section and key f2b-store.conf may hold: anything else is a typo worth a warning. */
const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  store: ['dbfile', 'historyage'],
  reconcile: ['backends', 'schedule', 'fullcheck'],
  'hosts-deny': ['file', 'daemons'],
  daemon: ['logfile', 'loglevel', 'logtarget', 'syslogsocket'],
  lockout: ['minprefix4', 'minprefix6', 'protect'],
  fleet: FLEET_KEYS,
  metrics: ['listen'],
};

/** The file's text, or undefined when it does not exist. */
function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new OperationError(`cannot read ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * The file's sections. Its syntax is checked first with the jail files' parser, which names the
 * file and line of a broken header or a key outside any section (the ini package reads past them).
 */
function readIni(path: string): Sections | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  parseIni(text, path);
  return ini.parse(text) as Sections;
}

function unknownKeys(file: IniFile): string[] {
  const warnings: string[] = [];
  const where = (line: number): string => `${file.file}:${line}`;
  for (const section of file.sections) {
    const known = KNOWN_KEYS[section.name];
    if (known === undefined) {
      warnings.push(`${where(section.line)}: unknown section [${section.name}]${didYouMean(section.name, Object.keys(KNOWN_KEYS), true)}: ignored`);
      continue;
    }
    for (const option of section.options.values()) {
      if (!known.includes(option.key)) warnings.push(`${where(option.line)}: unknown key "${option.key}" in [${section.name}]${didYouMean(option.key, known, true)}: ignored`);
    }
  }
  return warnings;
}

/** What `check` warns of in f2b-store.conf and .local: sections and keys nothing reads, each with a did-you-mean. */
export function storeConfigWarnings(dir: string): string[] {
  return ['f2b-store.conf', 'f2b-store.local'].flatMap((name) => {
    const path = join(dir, name);
    const text = readText(path);
    return text === undefined ? [] : unknownKeys(parseIni(text, path));
  });
}

/** Parses a comma list of backend names; `what` names where the list came from, for the error. */
export function parseBackendList(list: string, what: string, catalog: BackendCatalog): string[] {
  const names = list.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) throw new InputError(`${what}: empty backend list (use e.g. nftables, or none)`);
  for (const name of names) {
    if (!catalog.names.includes(name)) throw new InputError(`${what}: unknown backend "${name}" (known: ${catalog.names.join(', ')})`);
  }
  return names;
}

/** Reads `f2b-store.conf` then `f2b-store.local` from `dir`; a missing dir or file means defaults. */
export function loadStoreConfig(dir: string, catalog: BackendCatalog): StoreConfig {
  const merged: Record<string, Record<string, unknown>> = {};
  const sources: Record<string, string> = {};
  for (const file of ['f2b-store.conf', 'f2b-store.local']) {
    const path = join(dir, file);
    for (const [section, values] of Object.entries(readIni(path) ?? {})) {
      if (typeof values !== 'object' || values === null) continue;
      merged[section] = { ...merged[section], ...values };
      for (const key of Object.keys(values)) sources[`${section}.${key}`] = path;
    }
  }
  const get = (section: string, key: string): string | undefined => {
    const value = merged[section]?.[key];
    return value === undefined ? undefined : String(value).trim();
  };
  const where = (section: string, key: string): string => `${sources[`${section}.${key}`]} [${section}] ${key}`;
  const durationOrPermanent = (section: string, key: string, fallback: Duration): Duration => {
    const text = get(section, key);
    if (text === undefined) return fallback;
    try {
      return parseDuration(text);
    } catch (error) {
      throw new InputError(`${where(section, key)}: ${messageOf(error)}`);
    }
  };
  const duration = (section: string, key: string, fallback: number): number => {
    const value = durationOrPermanent(section, key, fallback);
    if (value === null) throw new InputError(`${where(section, key)}: must be a duration, not permanent`);
    return value;
  };
  const prefix = (key: string, bits: number, fallback: number): number => {
    const text = get('lockout', key);
    if (text === undefined || text === '') return fallback;
    if (!/^\d{1,3}$/.test(text) || Number(text) > bits) throw new InputError(`${where('lockout', key)}: "${text}" is not a prefix length from 0 to ${bits}`);
    return Number(text);
  };
  const protect = (get('lockout', 'protect') ?? '').split(/[\s,]+/).filter((item) => item !== '').map((item): Address => {
    const address = tryParseAddress(item);
    if (!address) throw new InputError(`${where('lockout', 'protect')}: "${item}" is not an address or network (e.g. 192.0.2.0/24, 2001:db8::/48)`);
    return address;
  });
  const logFile = get('daemon', 'logfile') ?? DEFAULT_STORE_CONFIG.logFile;
  const backends = get('reconcile', 'backends');
  const metricsListen = get('metrics', 'listen') ?? '';
  const fleet = merged.fleet === undefined ? undefined : fleetConfig((key) => get('fleet', key), (key) => (sources[`fleet.${key}`] === undefined ? 'f2b-store.conf [fleet]' : where('fleet', key)));
  return {
    dbfile: get('store', 'dbfile') || DEFAULT_STORE_CONFIG.dbfile,
    historyAge: durationOrPermanent('store', 'historyage', DEFAULT_STORE_CONFIG.historyAge),
    backends: backends === undefined ? DEFAULT_STORE_CONFIG.backends : parseBackendList(backends, where('reconcile', 'backends'), catalog),
    schedule: get('reconcile', 'schedule') || DEFAULT_STORE_CONFIG.schedule,
    fullCheck: duration('reconcile', 'fullcheck', DEFAULT_STORE_CONFIG.fullCheck),
    hostsDenyFile: get('hosts-deny', 'file') || DEFAULT_STORE_CONFIG.hostsDenyFile,
    hostsDenyDaemons: get('hosts-deny', 'daemons') || DEFAULT_STORE_CONFIG.hostsDenyDaemons,
    logFile,
    logLevel: logLevel(get('daemon', 'loglevel'), where('daemon', 'loglevel')),
    logTarget: logTarget(get('daemon', 'logtarget'), get('daemon', 'syslogsocket'), logFile, (key) => where('daemon', key)),
    lockout: {
      minPrefix4: prefix('minprefix4', 32, DEFAULT_LOCKOUT_FLOOR.minPrefix4),
      minPrefix6: prefix('minprefix6', 128, DEFAULT_LOCKOUT_FLOOR.minPrefix6),
      protect,
    },
    ...(fleet ? { fleet } : {}),
    ...(metricsListen === '' ? {} : { metrics: parseListenAddress(metricsListen, where('metrics', 'listen')) }),
  };
}

const LEVEL_WORDS = ['error', 'warning', 'notice', 'info', 'debug'];
const TARGET_WORDS = ['stderr', 'stdout', 'syslog', 'journal', 'systemd-journal'];

function logLevel(text: string | undefined, where: string): LogLevel {
  if (text === undefined || text === '') return DEFAULT_STORE_CONFIG.logLevel;
  const level = parseLogLevel(text);
  if (level === undefined) throw new InputError(`${where}: "${text}" is no log level${didYouMean(text.toLowerCase(), LEVEL_WORDS, true)}`);
  return level;
}

/**
 * `logtarget`, in fail2ban's words too (STDERR, SYSLOG, SYSTEMD-JOURNAL, a file path). The ban log
 * (`logfile`) is recidive's, holding only bans: the daemon's log goes to another file.
 */
function logTarget(text: string | undefined, socket: string | undefined, logFile: string, where: (key: string) => string): LogTarget {
  const word = (text ?? '').toLowerCase();
  if (word === '' || word === 'stderr') return { kind: 'stderr' };
  if (word === 'stdout' || word === 'journal') return { kind: word };
  if (word === 'systemd-journal') return { kind: 'journal' };
  if (word === 'syslog') {
    if (socket === undefined || socket === '' || socket.toLowerCase() === 'auto') return { kind: 'syslog', socket: '/dev/log' };
    if (!socket.startsWith('/')) throw new InputError(`${where('syslogsocket')}: "${socket}" is no socket path (use auto, or an absolute path such as /dev/log)`);
    return { kind: 'syslog', socket };
  }
  if (!text?.startsWith('/')) {
    throw new InputError(`${where('logtarget')}: "${text}" is no log target${didYouMean(word, TARGET_WORDS)} (use stderr, stdout, syslog, journal, or a file's absolute path)`);
  }
  if (text === logFile) {
    throw new InputError(`${where('logtarget')}: ${text} is the ban log ([daemon] logfile, read by recidive, bans only): name another file for the daemon's log`);
  }
  return { kind: 'file', path: text };
}

/** A comma (or space) list of jails, or `all`. */
function jailSelection(text: string | undefined, where: string): JailSelection {
  const names = (text ?? 'all').split(/[\s,]+/).filter((name) => name !== '');
  if (names.length === 0 || (names.length === 1 && names[0] === 'all')) return 'all';
  for (const name of names) {
    if (name === 'all' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$/.test(name)) {
      throw new InputError(`${where}: "${name}" is no jail name (use all, or a comma list of jails such as sshd, manual)`);
    }
  }
  return names;
}

/** A duration of [fleet] (null for permanent/never), or `fallback` when it is not given. */
function fleetDuration(text: string | undefined, where: string, fallback: Duration): Duration {
  if (text === undefined || text === '') return fallback;
  try {
    return parseDuration(text === 'never' ? 'permanent' : text);
  } catch (error) {
    throw new InputError(`${where}: ${messageOf(error)}`);
  }
}

function fleetConfig(get: (key: string) => string | undefined, where: (key: string) => string): FleetConfig {
  const url = get('url') ?? '';
  if (url !== '' && !/^postgres(ql)?:\/\//.test(url)) throw new InputError(`${where('url')}: "${url}" is no libpq URL (postgresql://user@host/dbname?sslmode=verify-full)`);
  if (url === '' && get('host') === undefined) throw new InputError(`${where('url')}: needs url (postgresql://user@host/dbname) or host`);
  const port = get('port');
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new InputError(`${where('port')}: "${port}" is no port number (1 to 65535)`);
  }
  const sslmode = get('sslmode');
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode)) throw new InputError(`${where('sslmode')}: "${sslmode}" is no sslmode (${SSL_MODES.join(', ')})`);
  const node = get('node') || hostname();
  if (!FLEET_NAME.test(node)) throw new InputError(`${where('node')}: "${node}" is no node name (letters, digits, . _ -, at most 63)`);
  const schema = get('schema') || 'f2b_store';
  if (!SCHEMA_NAME.test(schema)) throw new InputError(`${where('schema')}: "${schema}" is no schema name (lower-case letters, digits, _)`);
  const optional = (key: string): string | undefined => {
    const value = get(key);
    return value === undefined || value === '' ? undefined : value;
  };
  const forgetAfter = fleetDuration(get('forgetafter'), where('forgetafter'), null);
  // A running host says it is there once an hour (when it prunes).
  if (forgetAfter !== null && forgetAfter < 86_400) throw new InputError(`${where('forgetafter')}: "${get('forgetafter')}" is less than a day (a running host is seen hourly; use e.g. 30d, or never)`);
  const parts = {
    host: optional('host'), dbname: optional('dbname'), user: optional('user'), passwordFile: optional('passwordfile'),
    sslmode: optional('sslmode'), sslrootcert: optional('sslrootcert'), port: port === undefined ? undefined : Number(port),
  };
  return {
    url,
    ...Object.fromEntries(Object.entries(parts).filter(([, value]) => value !== undefined)),
    node,
    share: jailSelection(get('share'), where('share')),
    accept: jailSelection(get('accept'), where('accept')),
    schema,
    poll: fleetDuration(get('poll'), where('poll'), 15) ?? MAX_DURATION,
    forgetAfter,
  };
}
