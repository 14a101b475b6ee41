import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkJailName, InputError, messageOf, parseJournalMatch, type BanTimeIncrement, type Duration, type JournalMatch, type JournalSource,
} from '../core/index.js';
import { actionFiles, actionSearchDirs, mapActions, parseActionList, type ActionFiles, type BlockType, type JailAction } from './action-mapping.js';
import { readConfig, type ConfigTree } from './config-tree.js';
import { filterSearchDirs, loadFilter, type FilterDefinition } from './filter-definition.js';
import { readIniFile, type IniOption } from './ini-file.js';
import { getOption, type Vars } from './interpolation.js';
import {
  parseBackend, parseBool, parseCount, parseEscalation, parseFactor, parseIgnoreIp, parseJailDuration, parseJailNames, parseJournalSource, parseLogEncoding,
  parseLogFormat, parseLogPaths, parseLogTimeZone, parseMultipliers, parsePort, parseProtocol, parseSource, parseUseDns, type Escalation, type JailValue, type LogFormat,
  type LogPath, type UseDns,
} from './jail-values.js';
import { asSourceLine, textAt, where, type Origin } from './sourced-text.js';
import type { BackendCatalog } from './store-config.js';

/** The configuration shipped with f2b-store (`jail.conf`, `f2b-store.conf`): two levels up from `src/config/` and from `dist/cli/`. */
export const SHIPPED_CONFIG_DIR = fileURLToPath(new URL('../../config/', import.meta.url));

/** The fail2ban release whose configuration semantics f2b-store follows: `%(fail2ban_version)s` in jail files. */
export const FAIL2BAN_VERSION = '1.0.2';

/** `bantime.*`: how a repeat offender's ban grows. */
export type IncrementOptions = BanTimeIncrement;


export interface JailSettings {
  readonly name: string;
  /** The jail's `[name]` header (its first appearance in the layered files). */
  readonly origin: Origin;
  /** Empty for the systemd backend, which reads the journal (fail2ban ignores `logpath` there). */
  readonly logpaths: readonly LogPath[];
  /** auto, pyinotify, gamin, polling or systemd. */
  readonly backend: string;
  /** Options given with the backend: `systemd[journalpath=/x]`. */
  readonly backendOptions: Readonly<Record<string, string>>;
  /** The journal the systemd backend reads (its backend options, checked); absent for the file backends. */
  readonly journal?: JournalSource;
  /**
   * With `backend = auto`, the `logpath` lines that named no file when the jail was read, on a
   * system where journald runs: the jail reads the journal instead (see LoadJailsOptions).
   */
  readonly journalInsteadOf?: readonly LogPath[];
  readonly maxretry: number;
  /** Seconds. */
  readonly findtime: number;
  /** Seconds; null = permanent (`-1`). */
  readonly bantime: Duration;
  readonly increment: IncrementOptions;
  /** Addresses and networks in core's canonical form, and host names (lower case). */
  readonly ignoreip: readonly string[];
  readonly ignoreself: boolean;
  readonly ignorecommand?: string;
  readonly port?: string;
  readonly protocol?: string;
  /** How the native firewall backends refuse a banned address. */
  readonly blocktype: BlockType;
  /** Native backends from the jail's fail2ban firewall actions; empty: the configured `[reconcile] backends` apply. */
  readonly backends: readonly string[];
  /** action.d actions that are not native, to be run as commands. */
  readonly actions: readonly JailAction[];
  /** A WHATWG encoding name (`utf-8` for fail2ban's `auto`). */
  readonly logencoding: string;
  /** How the log files hold their lines: as written, or in a container runtime's records (`plain` unless set). */
  readonly logformat: LogFormat;
  /** fail2ban's `logtimezone`, as given (a zone it knows): the zone of dates in the log that carry none. */
  readonly logtimezone?: string;
  readonly usedns: UseDns;
  readonly maxmatches: number;
  /** `escalate`: networks of IPv4 addresses banned here banned whole (absent: never). */
  readonly escalate?: Escalation;
  /** `escalate6`: the same for IPv6. */
  readonly escalate6?: Escalation;
  /** Failures are counted, and bans made, per network of this many bits: 32 and 128 (one address) unless set. */
  readonly ipv4prefix: number;
  readonly ipv6prefix: number;
}

/** An enabled jail that reads logs (`source = logs`, the default): its filter is loaded (and so known to load). */
export interface EnabledJail extends JailSettings {
  readonly enabled: true;
  readonly source?: 'logs';
  readonly filter: FilterDefinition;
  /**
   * With the systemd backend: the entries the jail reads, from its `journalmatch` (the jail's own
   * replaces its filter's, as in fail2ban). Absent: every entry of the journal.
   */
  readonly journalMatch?: JournalMatch;
}

/**
 * An enabled jail with `source = bans`: no log, no filter. It counts the bans the store recorded
 * of an address within its findtime, in the jails of `bans.jails`, or (absent) in every jail but
 * those with `source = bans`, and bans it for its own bantime at maxretry.
 */
export interface BansJail extends JailSettings {
  readonly enabled: true;
  readonly source: 'bans';
  readonly bansJails?: readonly string[];
  readonly filter?: undefined;
  readonly journalMatch?: undefined;
}

/** Whose bans a `source = bans` jail counts: the jails listed in `only`, or (absent) every jail; never those in `except`. */
export function bansJailSelection(jail: BansJail, all: readonly BansJail[]): { readonly only?: readonly string[]; readonly except: readonly string[] } {
  // A jail never counts its own bans, and without a list never those of another jail counting bans: one would feed the other.
  return jail.bansJails === undefined ? { except: all.map((d) => d.name) } : { only: jail.bansJails, except: [jail.name] };
}

/** Every kind of enabled jail: each has its firewall objects; only the log jails read logs. */
export type AnyEnabledJail = EnabledJail | BansJail;

export function isLogJail(jail: AnyEnabledJail): jail is EnabledJail {
  return jail.source !== 'bans';
}

/** A disabled jail: every option is checked, but, as in fail2ban, its filter is not loaded. */
export interface DisabledJail extends JailSettings {
  readonly enabled: false;
  readonly filter?: undefined;
}

export type JailDefinition = EnabledJail | BansJail | DisabledJail;

export interface LoadJailsOptions {
  /** Where filter names are looked up; default `filterSearchDirs(configDir)`. */
  readonly filterDirs?: readonly string[];
  /** Where action names are looked up; default `actionSearchDirs(configDir)`. */
  readonly actionDirs?: readonly string[];
  /**
   * For an enabled log jail with `backend = auto` whose filter has a journalmatch: whether it reads
   * the systemd journal instead of its `logpath` (which names no file, and journald runs). A
   * system that logs only to the journal (Debian 12 without rsyslog, Fedora, Arch) has no
   * /var/log/auth.log: there fail2ban refuses to start, and a jail watching nothing protects
   * nothing. Absent: `auto` always reads files, as in fail2ban.
   */
  readonly journalInstead?: (logpaths: readonly LogPath[]) => boolean;
}

/** The [Definition] keys of a filter that a jail may set, replacing the filter's own (fail2ban's rule). */
const FILTER_OPTIONS = ['usedns', 'prefregex', 'ignoreregex', 'failregex', 'maxlines', 'datepattern', 'journalmatch'];

const DEFAULTS = { maxretry: 5, findtime: 600, bantime: 600 } as const;

interface Context {
  readonly tree: ConfigTree;
  readonly headers: ReadonlyMap<string, Origin>;
  readonly filterDirs: readonly string[];
  readonly actions: ActionFiles;
  readonly catalog: BackendCatalog;
  /** Whether an enabled log jail's filter is loaded (see enabledJailSettings). */
  readonly filters: boolean;
  readonly journalInstead: LoadJailsOptions['journalInstead'];
}

/** fail2ban adds these to [DEFAULT] before it resolves anything, over what the files say. */
function withStaticDefaults(tree: ConfigTree, configDir: string): ConfigTree {
  const origin = { file: '(fail2ban built-in)', line: 0 };
  const option = (key: string, text: string): [string, IniOption] => [key, { key, value: textAt(text, origin), ...origin }];
  const defaults = new Map([...tree.defaults, option('fail2ban_version', FAIL2BAN_VERSION), option('fail2ban_confpath', resolve(configDir))]);
  return { ...tree, defaults };
}

/** Where each section is first written: its header line. */
function sectionHeaders(files: readonly string[]): Map<string, Origin> {
  const headers = new Map<string, Origin>();
  for (const file of new Set(files)) {
    for (const section of readIniFile(file).sections) {
      const name = section.name.replace(/\?.*$/s, '');
      if (!headers.has(name)) headers.set(name, { file, line: section.line });
    }
  }
  return headers;
}

/** A filter's resolved values as `known/<key>`, for jail options that extend them (`failregex = %(known/failregex)s ...`). */
function knownOf(filter: FilterDefinition): Vars {
  const origin = { file: filter.file, line: 0 };
  return new Map(Object.entries(filter.options).map(([key, text]) => [`known/${key}`, textAt(text, origin)]));
}

/** An enabled jail as enabledJailSettings reads it: its filter not loaded. */
type UnfilteredJail = JailSettings & { readonly enabled: true; readonly filter?: undefined };

function loadJail(ctx: Context, name: string): JailDefinition | UnfilteredJail {
  const { tree } = ctx;
  const origin = ctx.headers.get(name) ?? { file: tree.files[0] ?? '', line: 0 };
  try {
    checkJailName(name);
  } catch (error) {
    throw new InputError(`${where(origin)}: ${messageOf(error)}`);
  }
  const option = (key: string, vars?: Vars): JailValue | undefined => {
    const value = getOption(tree, name, key, vars);
    return value === undefined ? undefined : { jail: name, key, value };
  };
  /** Set and not blank: fail2ban takes a blank value as not given for most options. */
  const given = (key: string, vars?: Vars): JailValue | undefined => {
    const v = option(key, vars);
    return v === undefined || v.value.text.trim() === '' ? undefined : v;
  };
  const missing = (problem: string, at: Origin = origin): InputError => new InputError(`${where(at)}: [${name}] ${problem}`);
  const read = <T>(key: string, parse: (v: JailValue) => T, fallback: T): T => {
    const v = given(key);
    return v === undefined ? fallback : parse(v);
  };
  const readOptional = <T>(key: string, parse: (v: JailValue) => T | undefined): T | undefined => {
    const v = given(key);
    return v === undefined ? undefined : parse(v);
  };
  const textOf = (key: string): string | undefined => given(key)?.value.text.trim();

  const enabled = read('enabled', parseBool, false);
  const source = read('source', parseSource, 'logs');
  const backend = read('backend', parseBackend, { name: 'auto', options: {} });
  const maxretry = read('maxretry', (v) => parseCount(v, 1), DEFAULTS.maxretry);
  const findtime = read('findtime', (v) => parseJailDuration(v, false) as number, DEFAULTS.findtime);
  const bantime = read('bantime', (v) => parseJailDuration(v, true), DEFAULTS.bantime);
  // Options that are not set are left out, so a jail compares and prints as configured.
  const incrementEnabled = read('bantime.increment', parseBool, false);
  const factor = read('bantime.factor', parseFactor, 1);
  const formula = textOf('bantime.formula');
  const multipliers = readOptional('bantime.multipliers', parseMultipliers);
  const maxtime = readOptional('bantime.maxtime', (v) => parseJailDuration(v, false) ?? undefined);
  const rndtime = readOptional('bantime.rndtime', (v) => parseJailDuration(v, false) ?? undefined);
  const increment: IncrementOptions = {
    enabled: incrementEnabled,
    factor,
    ...(formula === undefined ? {} : { formula }),
    ...(multipliers === undefined ? {} : { multipliers }),
    ...(maxtime === undefined ? {} : { maxtime }),
    ...(rndtime === undefined ? {} : { rndtime }),
    overalljails: read('bantime.overalljails', parseBool, false),
  };
  const ignoreip = read('ignoreip', parseIgnoreIp, []);
  const backendValue = given('backend');
  const journal = backend.name === 'systemd'
    ? parseJournalSource(backend.options, `${where(backendValue === undefined ? origin : asSourceLine(backendValue.value))}: [${name}] backend`)
    : undefined;
  const logpathValue = option('logpath');
  const logpaths = backend.name === 'systemd' || logpathValue === undefined || source === 'bans' ? [] : parseLogPaths(logpathValue);
  if (enabled && source === 'logs' && backend.name !== 'systemd' && logpaths.length === 0) {
    throw missing('enabled, but no logpath (or backend = systemd) is given', logpathValue === undefined ? origin : asSourceLine(logpathValue.value));
  }
  const logformatValue = given('logformat');
  const logformat = logformatValue === undefined ? 'plain' : parseLogFormat(logformatValue);
  if (logformatValue !== undefined && logformat !== 'plain' && backend.name === 'systemd') {
    // Docker's and podman's journald drivers write each line as a plain entry.
    throw missing(`logformat = ${logformat} reads container log files: the journal holds no records to unwrap (use logformat = plain)`, asSourceLine(logformatValue.value));
  }
  const logtimezone = readOptional('logtimezone', parseLogTimeZone);
  const actionValue = option('action') ?? option('banaction');
  const specs = actionValue === undefined ? [] : parseActionList(actionValue.value, `[${name}] ${actionValue.key}`);
  const mapping = mapActions(specs, ctx.actions, { name, enabled }, ctx.catalog);
  const ignoreself = read('ignoreself', parseBool, true);
  const ignorecommand = textOf('ignorecommand');
  const port = readOptional('port', parsePort);
  const escalate = readOptional('escalate', (v) => parseEscalation(v, 4));
  const escalate6 = readOptional('escalate6', (v) => parseEscalation(v, 6));
  const protocol = readOptional('protocol', parseProtocol);
  const settings = {
    name,
    origin,
    logpaths,
    backend: backend.name,
    backendOptions: backend.options,
    ...(journal === undefined ? {} : { journal }),
    maxretry,
    findtime,
    bantime,
    increment,
    ignoreip,
    ignoreself,
    ...(ignorecommand === undefined ? {} : { ignorecommand }),
    ...(port === undefined ? {} : { port }),
    ...(protocol === undefined ? {} : { protocol }),
    blocktype: mapping.blocktype,
    backends: mapping.backends,
    actions: mapping.actions,
    logencoding: read('logencoding', parseLogEncoding, 'utf-8'),
    logformat,
    ...(logtimezone === undefined ? {} : { logtimezone }),
    maxmatches: read('maxmatches', (v) => parseCount(v, 0), maxretry),
    ...(escalate === undefined ? {} : { escalate }),
    ...(escalate6 === undefined ? {} : { escalate6 }),
    ipv4prefix: read('ipv4prefix', (v) => parseCount(v, 1, 32), 32),
    ipv6prefix: read('ipv6prefix', (v) => parseCount(v, 1, 128), 128),
  };
  const jailDns = readOptional('usedns', parseUseDns);
  if (!enabled) return { ...settings, enabled, usedns: jailDns ?? 'warn' };
  if (source === 'bans') {
    const bansJails = readOptional('bans.jails', parseJailNames);
    return { ...settings, enabled, source, usedns: jailDns ?? 'warn', ...(bansJails === undefined ? {} : { bansJails }) };
  }
  if (!ctx.filters) return { ...settings, enabled, usedns: jailDns ?? 'warn' };

  const filterValue = given('filter');
  if (filterValue === undefined) throw missing('enabled, but no filter is given (filter = name[options])');
  const spec = filterValue.value.text.trim();
  const specOrigin = asSourceLine(filterValue.value);
  const load = (overrides: Record<string, string>, backendName = backend.name): FilterDefinition =>
    loadFilter(spec, ctx.filterDirs, { backend: backendName, specOrigin, overrides });
  const raw = (key: string): string | undefined => (tree.sections.get(name)?.get(key) ?? tree.defaults.get(key))?.value.text;
  const known = FILTER_OPTIONS.some((key) => raw(key)?.includes('known/')) ? knownOf(load({})) : undefined;
  const overrides = Object.fromEntries(FILTER_OPTIONS.flatMap((key) => {
    // A blank regex or journalmatch clears the filter's; a blank usedns or maxlines means "not given".
    const v = key === 'usedns' || key === 'maxlines' ? given(key, known) : option(key, known);
    return v === undefined ? [] : [[key, v.value.text]];
  }));
  const usednsOf = (filter: FilterDefinition): UseDns => jailDns
    ?? (filter.options.usedns === undefined ? 'warn' : parseUseDns({ jail: name, key: 'usedns', value: textAt(filter.options.usedns, { file: filter.file, line: 0 }) }));
  // A container's log is no system log: the journal never stands in for it.
  if (backend.name === 'auto' && logformat === 'plain' && logpaths.length > 0 && ctx.journalInstead?.(logpaths) === true) {
    // As `backend = systemd` would read it: the filter's journal form (logtype = journal), the system journal, its journalmatch.
    const journalFilter = load(overrides, 'systemd');
    const match = readJournalMatch(name, journalFilter, option('journalmatch'));
    if (match !== undefined) {
      return {
        ...settings, enabled, usedns: usednsOf(journalFilter), backend: 'systemd', logpaths: [], journal: parseJournalSource({}, `[${name}] backend`),
        journalInsteadOf: logpaths, filter: journalFilter, journalMatch: match,
      };
    }
  }
  const filter = load(overrides);
  const journalMatch = journal === undefined ? undefined : readJournalMatch(name, filter, option('journalmatch'));
  return { ...settings, enabled, filter, usedns: usednsOf(filter), ...(journalMatch === undefined ? {} : { journalMatch }) };
}

/** The jail's effective journalmatch, parsed; a problem names the jail's own `journalmatch` line, or the filter file. */
function readJournalMatch(jail: string, filter: FilterDefinition, own: JailValue | undefined): JournalMatch | undefined {
  try {
    return parseJournalMatch(filter.journalmatch ?? '');
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    const at = own === undefined ? filter.file : where(asSourceLine(own.value));
    throw new InputError(`${at}: [${jail}] ${error.message}`, { cause: error });
  }
}

/**
 * Reads every jail of `configDir` as fail2ban does (`jail.conf`, `jail.d/*.conf`, `jail.local`,
 * `jail.d/*.local`, with `[INCLUDES]` and `%(...)s`): enabled jails with their filter loaded,
 * disabled ones checked the same way but without their filter. A directory without jail files
 * has no jails. The first problem is an InputError naming file, line, option and value.
 */
export function loadJails(configDir: string, catalog: BackendCatalog, options: LoadJailsOptions = {}): JailDefinition[] {
  // With filters read, every enabled log jail has its filter: none is an UnfilteredJail.
  return readJails(configDir, catalog, options, true) as JailDefinition[];
}

function readJails(configDir: string, catalog: BackendCatalog, options: LoadJailsOptions, filters: boolean): (JailDefinition | UnfilteredJail)[] {
  const tree = withStaticDefaults(readConfig(configDir, 'jail'), configDir);
  const ctx: Context = {
    tree,
    headers: sectionHeaders(tree.files),
    filterDirs: options.filterDirs ?? filterSearchDirs(configDir),
    actions: actionFiles(options.actionDirs ?? actionSearchDirs(configDir)),
    catalog,
    filters,
    journalInstead: options.journalInstead,
  };
  return [...tree.sections.keys()].filter((name) => name !== 'INCLUDES').map((name) => loadJail(ctx, name));
}

/**
 * Where the jails of `configDir` are read: the dir itself, or, when it does not exist, the shipped
 * defaults (config/: the sshd jail), as a missing f2b-store.conf means the default settings.
 */
export function jailConfigDir(configDir: string): string {
  return existsSync(configDir) ? configDir : SHIPPED_CONFIG_DIR;
}

/** What `check` and the daemon say of a jail that reads the journal for `backend = auto` (see LoadJailsOptions). */
export function journalInsteadNotice(jail: string, logpaths: readonly LogPath[]): string {
  return `jail ${jail}: no log file matches ${logpaths.map((p) => p.pattern).join(', ')}: it reads the systemd journal instead (backend = auto)`;
}

/**
 * What to try when a jail watches no file, after the warning that says so: the journal for a
 * system log; a container's log appears when the container first writes.
 */
export function watchesNothingHint(logformat: LogFormat): string {
  return logformat === 'plain'
    ? '(a system that logs only to the journal needs backend = systemd)'
    : `(with logformat = ${logformat}: the container's log appears when it starts)`;
}

/** The enabled jails of `configDir` (see jailConfigDir). */
export function enabledJails(configDir: string, catalog: BackendCatalog, options: LoadJailsOptions = {}): AnyEnabledJail[] {
  return loadJails(jailConfigDir(configDir), catalog, options).filter((jail): jail is AnyEnabledJail => jail.enabled);
}

/**
 * The enabled jails of `configDir`, checked as enabledJails checks them, but without reading their
 * filters: what routing bans to backends and the backends' rules need (a command that bans or
 * unbans reads no filter file; `check` and the daemon load them). `usedns` is the jail's own.
 */
export function enabledJailSettings(configDir: string, catalog: BackendCatalog): JailSettings[] {
  return readJails(jailConfigDir(configDir), catalog, {}, false).filter((jail) => jail.enabled);
}
