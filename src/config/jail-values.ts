import { isAbsolute, resolve } from 'node:path';
import {
  checkJailName, durationTooLong, InputError, JOURNAL_FLAGS, MAX_DURATION, messageOf, parseDuration, tryParseAddress, ZONE_FORMS, zoneOffsetMinutes, type Duration, type JournalSource,
} from '../core/index.js';
import { evaluateArithmetic } from './arithmetic.js';
import { didYouMean } from './did-you-mean.js';
import { parseOptionSpec } from './option-list.js';
import { asSourceLine, sourceLines, where, type Origin, type SourcedText } from './sourced-text.js';

/** One option of one jail as resolved (`%(...)s` done), with where its text was written. */
export interface JailValue {
  readonly jail: string;
  readonly key: string;
  readonly value: SourcedText;
}

/** A `logpath` line: a path that may hold globs, and fail2ban's ` tail` suffix (start at the end). */
export interface LogPath {
  readonly pattern: string;
  readonly tail: boolean;
}

export type UseDns = 'yes' | 'warn' | 'no' | 'raw';

/**
 * What a jail counts: failures its filter finds in its logs, or bans the store recorded in other
 * jails (a recidive that survives rotation, restarts and `purge`). `source`, not `backend`: the
 * backend chooses how logs are read, and fail2ban refuses a backend it does not know, while it
 * takes an unknown key as a variable.
 */
export const JAIL_SOURCES = ['logs', 'bans'] as const;
export type JailSource = (typeof JAIL_SOURCES)[number];

export function parseSource(v: JailValue): JailSource {
  const value = text(v).toLowerCase();
  if ((JAIL_SOURCES as readonly string[]).includes(value)) return value as JailSource;
  return fail(v, `expected logs or bans, not "${text(v)}"${didYouMean(value, JAIL_SOURCES)}`);
}

/** `bans.jails`: jail names, separated by spaces, commas or lines; never the jail itself (it must not count its own bans). */
export function parseJailNames(v: JailValue): string[] {
  const names = new Set<string>();
  for (const line of lines(v)) {
    for (const name of line.text.split(/[\s,]+/)) {
      if (name === '') continue;
      try {
        checkJailName(name);
      } catch (error) {
        fail(v, messageOf(error), line.origin);
      }
      if (name === v.jail) fail(v, `names the jail itself: a jail never counts its own bans (list the jails whose bans it counts)`, line.origin);
      names.add(name);
    }
  }
  if (names.size === 0) fail(v, 'names no jail (leave it out to count the bans of every jail but those with source = bans)');
  return [...names];
}

/** fail2ban's log-watching backends; `systemd` reads the journal instead of files. */
export const WATCH_BACKENDS = ['auto', 'pyinotify', 'gamin', 'polling', 'systemd'] as const;

function fail(v: JailValue, problem: string, at: Origin = asSourceLine(v.value)): never {
  throw new InputError(`${where(at)}: [${v.jail}] ${v.key}: ${problem}`);
}

function text(v: JailValue): string {
  return v.value.text.trim();
}

const TRUE = ['1', 'yes', 'true', 'on'];
const FALSE = ['0', 'no', 'false', 'off'];

/** A yes/no value. fail2ban reads anything but 1/yes/true/on as false; a typo here is refused instead. */
export function parseBool(v: JailValue): boolean {
  const value = text(v).toLowerCase();
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  return fail(v, `expected true or false (yes/no, on/off, 1/0), not "${text(v)}"${didYouMean(value, [...TRUE, ...FALSE])}`);
}

/** A whole number of at least `min` (and at most `max`, when given). */
export function parseCount(v: JailValue, min: number, max?: number): number {
  const value = text(v);
  if (!/^\+?\d+$/.test(value) || Number(value) < min || (max !== undefined && Number(value) > max)) {
    const range = max === undefined ? (min > 0 ? ` of at least ${min}` : '') : ` from ${min} to ${max}`;
    return fail(v, `expected a whole number${range}, not "${value}"`);
  }
  return Number(value);
}

// fail2ban's unit spellings (MyTime.str2seconds) beyond core's; month and year as core counts them.
const UNIT_SECONDS: ReadonlyMap<string, number> = new Map([
  ...['s', 'se', 'sec', 'secs', 'ss', 'second', 'seconds'].map((u) => [u, 1] as const),
  ...['m', 'mi', 'min', 'mins', 'mm', 'minute', 'minutes'].map((u) => [u, 60] as const),
  ...['h', 'ho', 'hou', 'hh', 'hour', 'hours'].map((u) => [u, 3600] as const),
  ...['d', 'da', 'dd', 'day', 'days'].map((u) => [u, 86400] as const),
  ...['w', 'we', 'wee', 'ww', 'week', 'weeks'].map((u) => [u, 7 * 86400] as const),
  ...['mo', 'mon', 'month', 'months'].map((u) => [u, 30 * 86400] as const),
  ...['y', 'ye', 'yea', 'yy', 'year', 'years'].map((u) => [u, 365 * 86400] as const),
]);

/**
 * A duration in seconds as fail2ban reads one: what core's parseDuration reads (`10m`, `1d 12h`,
 * `-1`), plus fail2ban's arithmetic (`1h+30m`, `1y-6mo`, `2*1h`). null is `-1`, permanent, and
 * only allowed when `permanent` is true.
 */
export function parseJailDuration(v: JailValue, permanent: boolean): Duration {
  const value = text(v);
  let seconds: Duration;
  try {
    seconds = parseDuration(value);
  } catch (error) {
    let evaluated: number;
    try {
      evaluated = evaluateArithmetic(value, (word) => UNIT_SECONDS.get(word));
    } catch {
      return fail(v, messageOf(error));
    }
    if (evaluated === -1) seconds = null;
    else if (evaluated > MAX_DURATION) return fail(v, durationTooLong(value).message);
    else if (evaluated >= 1) seconds = Math.round(evaluated);
    else return fail(v, `bad duration "${value}": must be at least one second${permanent ? ' (or -1, permanent)' : ''}`);
  }
  if (seconds === null && !permanent) return fail(v, `must be a duration, not permanent: "${value}"`);
  return seconds;
}

/**
 * `escalate` (IPv4) and `escalate6` (IPv6): when `count` distinct addresses of one network of
 * `prefix` bits are banned in a jail within `window` seconds, the network is banned.
 */
export interface Escalation {
  readonly count: number;
  readonly prefix: number;
  readonly window: number;
}

/** `COUNT/PREFIX in DURATION` (`5/24 in 1h`): a network narrower than the family's width, at least 2 addresses. */
export function parseEscalation(v: JailValue, family: 4 | 6): Escalation {
  const value = text(v);
  const match = /^(\d+)\s*\/\s*(\d+)\s+in\s+(.+)$/i.exec(value);
  const width = family === 4 ? 32 : 128;
  const example = family === 4 ? '5/24 in 1h' : '5/48 in 1h';
  if (!match) return fail(v, `expected COUNT/PREFIX in DURATION, e.g. "${example}", not "${value}"`);
  const count = Number(match[1]);
  const prefix = Number(match[2]);
  if (count < 2) return fail(v, `the count must be at least 2, not ${count} (in "${value}")`);
  if (prefix < 1 || prefix >= width) return fail(v, `the prefix must be 1 to ${width - 1} for IPv${family}, not /${prefix} (in "${value}")`);
  const window = parseJailDuration({ ...v, value: { ...v.value, text: match[3] as string } }, false) as number;
  return { count, prefix, window };
}

/** `bantime.factor`: a positive number, or arithmetic fail2ban would evaluate (`2.0 / 2.885385`). */
export function parseFactor(v: JailValue): number {
  let factor: number;
  try {
    factor = evaluateArithmetic(text(v));
  } catch (error) {
    return fail(v, `expected a number: ${messageOf(error)}`);
  }
  if (!Number.isFinite(factor) || factor <= 0) return fail(v, `must be more than 0: "${text(v)}"`);
  return factor;
}

/** `bantime.multipliers`: whole numbers separated by spaces; undefined when empty. */
export function parseMultipliers(v: JailValue): number[] | undefined {
  const words = text(v).split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return undefined;
  const bad = words.find((w) => !/^\d+$/.test(w));
  if (bad !== undefined) return fail(v, `expected whole numbers separated by spaces, not "${bad}"`);
  return words.map(Number);
}

/** `backend`: one of WATCH_BACKENDS, optionally with options (`systemd[journalpath=/x]`). */
export function parseBackend(v: JailValue): { name: string; options: Readonly<Record<string, string>> } {
  const origin = asSourceLine(v.value);
  const spec = parseOptionSpec(text(v) || 'auto', () => `${where(origin)}: [${v.jail}] ${v.key}`);
  const name = spec.name.toLowerCase();
  if (!(WATCH_BACKENDS as readonly string[]).includes(name)) {
    return fail(v, `unknown backend "${spec.name}"${didYouMean(name, WATCH_BACKENDS)} (known: ${WATCH_BACKENDS.join(', ')})`);
  }
  return { name, options: spec.options };
}

const JOURNAL_OPTIONS = ['journalpath', 'journalfiles', 'journalflags', 'namespace'];
const ALL_JOURNAL_FLAGS = Object.values(JOURNAL_FLAGS).reduce((a, b) => a | b, 0);

/**
 * The journal options of `backend = systemd[…]` (fail2ban's names); `label` says where they
 * were written, for errors. `journalfiles` is split on spaces, commas and new lines, as fail2ban
 * splits it; `journalflags` is a number combining JOURNAL_FLAGS. Paths must be absolute, unless
 * `base` is given to resolve them against (a command line's working directory).
 */
export function parseJournalSource(options: Readonly<Record<string, string>>, label: string, base?: string): JournalSource {
  const fail = (problem: string): never => {
    throw new InputError(`${label}: ${problem}`);
  };
  const unknown = Object.keys(options).find((key) => !JOURNAL_OPTIONS.includes(key));
  if (unknown !== undefined) fail(`unknown journal option "${unknown}" (known: ${JOURNAL_OPTIONS.join(', ')})`);
  const absolute = (key: string, path: string): string => {
    if (base !== undefined) return resolve(base, path);
    return isAbsolute(path) ? path : fail(`${key}: not an absolute path: "${path}"`);
  };
  const { journalpath, journalfiles, journalflags, namespace } = options;
  const path = journalpath?.trim();
  const files = journalfiles?.split(/[ ,\n]+/).filter((f) => f !== '');
  if (path === '') fail('journalpath is empty');
  if (files !== undefined && files.length === 0) fail('journalfiles is empty');
  if (path !== undefined && files !== undefined) fail('give journalpath or journalfiles, not both');
  let flags: number | undefined;
  if (journalflags !== undefined) {
    flags = /^\s*\d+\s*$/.test(journalflags) ? Number(journalflags) : NaN;
    if (!Number.isSafeInteger(flags) || (flags & ~ALL_JOURNAL_FLAGS) !== 0) {
      fail(`journalflags must be a sum of ${Object.entries(JOURNAL_FLAGS).map(([name, bit]) => `${bit} (${name})`).join(', ')}, not "${journalflags}"`);
    }
  }
  if (namespace !== undefined && namespace.trim() === '') fail('namespace is empty');
  return {
    ...(path === undefined ? {} : { path: absolute('journalpath', path) }),
    ...(files === undefined ? {} : { files: files.map((f) => absolute('journalfiles', f)) }),
    ...(flags === undefined ? {} : { flags }),
    ...(namespace === undefined ? {} : { namespace: namespace.trim() }),
  };
}

/** The non-empty lines of a value, each with the place that wrote it. */
function lines(v: JailValue): { text: string; origin: Origin }[] {
  return sourceLines(v.value)
    .map((l) => ({ text: l.text.trim(), origin: { file: l.file, line: l.line } }))
    .filter((l) => l.text !== '');
}

/** `logpath`: one absolute path (globs allowed) per line, optionally followed by `head` or `tail`. */
export function parseLogPaths(v: JailValue): LogPath[] {
  return lines(v).map((line) => {
    const words = line.text.split(/\s+/);
    const last = words[words.length - 1];
    const position = words.length > 1 && (last === 'tail' || last === 'head') ? last : undefined;
    const pattern = position === undefined ? line.text : words.slice(0, -1).join(' ');
    if (words.length > (position === undefined ? 1 : 2)) {
      return fail(v, `one path per line, optionally followed by "tail" or "head": "${line.text}"`, line.origin);
    }
    if (!isAbsolute(pattern)) return fail(v, `not an absolute path: "${pattern}"`, line.origin);
    return { pattern, tail: position === 'tail' };
  });
}

const HOST_NAME = /^(?=.{1,253}\.?$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?$/i;

/**
 * `ignoreip`: addresses and CIDR networks (canonical, as core writes them) and host names (lower
 * case), separated by spaces, commas or new lines; duplicates dropped.
 */
export function parseIgnoreIp(v: JailValue): string[] {
  const entries = new Set<string>();
  for (const line of lines(v)) {
    for (const entry of line.text.split(/[\s,]+/)) {
      if (entry === '') continue;
      const address = tryParseAddress(entry);
      if (address !== undefined) {
        entries.add(address.text);
      } else if (/^[\d.]+$/.test(entry) || /[:/[\]]/.test(entry) || !HOST_NAME.test(entry)) {
        fail(v, `not an IP address, CIDR network or host name: "${entry}"`, line.origin);
      } else {
        entries.add(entry.toLowerCase());
      }
    }
  }
  return [...entries];
}

/** `usedns`: yes, warn, no or raw. */
export function parseUseDns(v: JailValue): UseDns {
  const value = text(v).toLowerCase();
  if (value === 'yes' || value === 'warn' || value === 'no' || value === 'raw') return value;
  return fail(v, `expected yes, warn, no or raw, not "${text(v)}"${didYouMean(value, ['yes', 'warn', 'no', 'raw'])}`);
}

/** How a jail's log files hold their lines: as written (`plain`), or in a container runtime's records (see filter/container-frame.ts). */
export type LogFormat = 'plain' | 'docker' | 'cri';
export const LOG_FORMATS: readonly LogFormat[] = ['plain', 'docker', 'cri'];

/** `logformat`: plain, docker (json-file) or cri (containerd, CRI-O, podman's k8s-file). */
export function parseLogFormat(v: JailValue): LogFormat {
  const value = text(v).toLowerCase();
  const format = LOG_FORMATS.find((f) => f === value);
  return format ?? fail(v, `expected ${LOG_FORMATS.join(', ')}, not "${text(v)}"${didYouMean(value, LOG_FORMATS)}`);
}

/** `logtimezone`: a zone fail2ban knows (see zoneOffsetMinutes), kept as given. */
export function parseLogTimeZone(v: JailValue): string {
  const value = text(v);
  if (zoneOffsetMinutes(value) === undefined) fail(v, `expected ${ZONE_FORMS}, not "${value}"`);
  return value;
}

/** `logencoding`: `auto` (UTF-8) or an encoding Node can decode, by its WHATWG name (`utf-8`, `windows-1252`). */
export function parseLogEncoding(v: JailValue): string {
  const value = text(v).toLowerCase();
  if (value === 'auto' || value === '') return 'utf-8';
  // Python's spellings (latin_1, latin-1) where WHATWG's labels differ.
  const label = value.replaceAll('_', '-').replace(/^latin-(\d)$/, 'latin$1');
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return fail(v, `unknown encoding "${text(v)}"`);
  }
}

/** `port`: ports, ranges (`1000:2000`) and service names (`ssh`) separated by commas; undefined when empty. */
export function parsePort(v: JailValue): string | undefined {
  const items = text(v).split(/\s*,\s*/).filter((p) => p !== '');
  if (items.length === 0) return undefined;
  const bad = items.find((p) => !/^[a-z0-9][\w.+-]*(?::[a-z0-9][\w.+-]*)?$/i.test(p));
  if (bad !== undefined) return fail(v, `expected ports, ranges (a:b) or service names separated by commas, not "${bad}"`);
  return items.join(',');
}

/** `protocol`: one word (`tcp`, `udp`, …); undefined when empty. */
export function parseProtocol(v: JailValue): string | undefined {
  const value = text(v);
  if (value === '') return undefined;
  if (!/^[a-z][\w-]*$/i.test(value)) return fail(v, `expected one protocol name (tcp, udp, ...), not "${value}"`);
  return value.toLowerCase();
}
