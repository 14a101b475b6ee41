import { readdirSync, statSync, type Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

/**
 * A `logpath` entry: a file name or a glob whose `*`, `?` and `[...]` stay within one path
 * segment, as Python's `glob` (what fail2ban uses) reads them.
 */
export interface LogPattern {
  readonly pattern: string;
  /** A file first seen after start-up, with no stored position, starts at its end. */
  readonly tail: boolean;
  /** Names one file (no glob characters). */
  readonly literal: boolean;
  /** The deepest directory named without glob characters: every match lies under it. */
  readonly base: string;
  readonly segments: readonly RegExp[];
}

const MAGIC = /[*?[]/;

export function compileLogPattern(pattern: string, tail: boolean): LogPattern {
  const absolute = resolve(pattern);
  const parts = absolute.split('/').slice(1);
  const firstMagic = parts.findIndex((part) => MAGIC.test(part));
  const baseParts = firstMagic === -1 ? parts.slice(0, -1) : parts.slice(0, firstMagic);
  const rest = parts.slice(baseParts.length);
  const base = firstMagic === -1 ? dirname(absolute) : `/${baseParts.join('/')}`;
  return { pattern: absolute, tail, literal: firstMagic === -1, base, segments: rest.map(segmentRegExp) };
}

/** True when `path` is a file name `pattern` names. */
export function patternMatches(pattern: LogPattern, path: string): boolean {
  const rel = relativeParts(pattern.base, path);
  return rel !== undefined && rel.length === pattern.segments.length && rel.every((part, i) => pattern.segments[i]?.test(part));
}

/** True when `path` is a directory on the way to a match: an ancestor of the base, or a partial match under it. */
export function patternLeadsTo(pattern: LogPattern, path: string): boolean {
  if (path === pattern.base || pattern.base.startsWith(withSlash(path))) return true;
  const rel = relativeParts(pattern.base, path);
  return rel !== undefined && rel.length < pattern.segments.length && rel.every((part, i) => pattern.segments[i]?.test(part));
}

function relativeParts(base: string, path: string): string[] | undefined {
  const prefix = withSlash(base);
  return path.startsWith(prefix) && path.length > prefix.length ? path.slice(prefix.length).split('/') : undefined;
}

function withSlash(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charAt(i);
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const negated = segment.charAt(i + 1) === '!';
      const bodyStart = i + (negated ? 2 : 1);
      // As in fnmatch, a `]` right after the opening bracket is a member, and an unclosed `[` is literal.
      const close = segment.indexOf(']', bodyStart + 1);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      const body = segment.slice(bodyStart, close).replace(/[\\^[\]]/g, '\\$&');
      source += `[${negated ? '^' : ''}${body}]`;
      i = close;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  // Python's glob lets a wildcard match a leading dot only when the pattern itself starts with one.
  const hidden = MAGIC.test(segment) && !segment.startsWith('.') ? '(?!\\.)' : '';
  return new RegExp(`^${hidden}${source}$`, 's');
}

/**
 * The files `pattern` names now (sorted): what a jail would watch if it started this moment.
 * Asynchronous: the daemon's sweep asks it, and a log directory on a network file system that
 * hangs must not hold the event loop.
 */
export async function matchingFiles(pattern: LogPattern): Promise<string[]> {
  if (pattern.literal) return (await isFile(pattern.pattern)) ? [pattern.pattern] : [];
  let dirs = [pattern.base];
  for (const [index, segment] of pattern.segments.entries()) {
    const last = index === pattern.segments.length - 1;
    const named = (await Promise.all(dirs.map(async (dir) => (await entries(dir)).filter((name) => segment.test(name)).map((name) => join(dir, name))))).flat();
    const kept = await Promise.all(named.map((path) => (last ? isFile(path) : isDirectory(path))));
    dirs = named.filter((_, i) => kept[i]);
  }
  return dirs.sort();
}

/**
 * A file `pattern` names now, the first found, read synchronously: for a configuration being
 * read (which reads its own files so), where matchingFiles serves the running daemon.
 */
export function firstMatchingFile(pattern: LogPattern): string | undefined {
  if (pattern.literal) return isFileSync(pattern.pattern) ? pattern.pattern : undefined;
  let dirs = [pattern.base];
  for (const [index, segment] of pattern.segments.entries()) {
    const paths = dirs.flatMap((dir) => entriesSync(dir).filter((name) => segment.test(name)).map((name) => join(dir, name)).sort());
    // The first file found answers: the last level is not stat'ed further.
    if (index === pattern.segments.length - 1) return paths.find(isFileSync);
    dirs = paths.filter((path) => statOf(path)?.isDirectory() === true);
  }
  return undefined;
}

/** Whether `pattern` names a file now (see firstMatchingFile). */
export function namesAFile(pattern: LogPattern): boolean {
  return firstMatchingFile(pattern) !== undefined;
}

/** A file one of a jail's `logpath` lines names now, if any (see firstMatchingFile). */
export function logpathsFirstFile(logpaths: readonly { readonly pattern: string; readonly tail: boolean }[]): string | undefined {
  for (const path of logpaths) {
    const file = firstMatchingFile(compileLogPattern(path.pattern, path.tail));
    if (file !== undefined) return file;
  }
  return undefined;
}

/** Whether any of a jail's `logpath` lines names a file now (see namesAFile). */
export function logpathsNameAFile(logpaths: readonly { readonly pattern: string; readonly tail: boolean }[]): boolean {
  return logpathsFirstFile(logpaths) !== undefined;
}

const entriesSync = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};
const statOf = (path: string): Stats | undefined => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};
const isFileSync = (path: string): boolean => statOf(path)?.isFile() === true;
const entries = (dir: string): Promise<string[]> => readdir(dir).catch(() => []);
const isFile = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined))?.isFile() ?? false;
const isDirectory = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
