import { TextDecoder } from 'node:util';
import type { JournalFields } from '../core/index.js';
import type { LineDecoder } from './line-splitter.js';

/**
 * One value in `journalctl --output=json`: text; an array of byte values when the value is not
 * printable UTF-8 (binary, a tab, bytes of another encoding); null for a value over 4096 bytes
 * unless `--all` is given. A field written several times in one entry is an array of these.
 */
type JsonValue = string | readonly number[] | null;

/** One entry as `journalctl --output=json` prints it (one JSON object per line). */
export type JournalJson = Readonly<Record<string, JsonValue | readonly JsonValue[]>>;

/** The fields the formatted line and its time are made of. */
export const LINE_FIELDS = [
  '_HOSTNAME', 'SYSLOG_IDENTIFIER', '_COMM', 'SYSLOG_PID', '_PID', 'MESSAGE', '_SOURCE_REALTIME_TIMESTAMP', '_SOURCE_MONOTONIC_TIMESTAMP',
] as const;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const isBytes = (value: unknown): value is readonly number[] => Array.isArray(value) && value.every((v) => typeof v === 'number');

/** The values of a field, in order (a repeated field has several); nulls left out. */
function rawValues(value: JsonValue | readonly JsonValue[] | undefined): (string | readonly number[])[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string' || isBytes(value)) return [value];
  return (value as readonly JsonValue[]).filter((v): v is string | readonly number[] => v !== null);
}

/** Text as fail2ban gets it: UTF-8 when the bytes are UTF-8, else the jail's `logencoding` (bad bytes replaced). */
function text(value: string | readonly number[], decode: LineDecoder): string {
  if (typeof value === 'string') return value;
  const bytes = Buffer.from(value);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decode(bytes);
  }
}

/**
 * Every field of an entry as text, for journalmatch routing: bytes that are not UTF-8 become
 * U+FFFD, which no journalmatch may hold, so they never match (journalctl compares bytes).
 * Journal-internal `__` fields are left out.
 */
export function journalFields(json: JournalJson): JournalFields {
  const fields: Record<string, string[]> = Object.create(null) as Record<string, string[]>;
  for (const [field, value] of Object.entries(json)) {
    if (field.startsWith('__')) continue;
    fields[field] = rawValues(value).map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('utf8')));
  }
  return fields;
}

function first(json: JournalJson, field: string, decode: LineDecoder): string | undefined {
  const [value] = rawValues(json[field]);
  return value === undefined ? undefined : text(value, decode);
}

/** A whole number as Python's int() reads one (spaces, sign, `_` between digits); undefined otherwise. */
function pythonInt(value: string): bigint | undefined {
  const match = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(value);
  return match ? BigInt(`${match[1]}${(match[2] as string).replaceAll('_', '')}`) : undefined;
}

/**
 * A PID as fail2ban writes it: a number when it is one (`[%i]`), else the text. Python's
 * converter makes a numeric PID an int, so a PID of 0 counts as not given, as in fail2ban.
 */
function pid(json: JournalJson, field: string, decode: LineDecoder): string | undefined {
  const value = first(json, field, decode);
  if (value === undefined || value === '') return undefined;
  const number = pythonInt(value);
  if (number === 0n) return undefined;
  return number === undefined ? value : String(number);
}

const MICROSECONDS = /^\d+$/;

/** Microseconds as fail2ban prints the kernel's monotonic time (`[%12.6f]`). */
function monotonicSeconds(json: JournalJson): string | undefined {
  const value = [json._SOURCE_MONOTONIC_TIMESTAMP, json.__MONOTONIC_TIMESTAMP]
    .map((v) => (typeof v === 'string' && MICROSECONDS.test(v) ? v : undefined))
    .find((v) => v !== undefined);
  if (value === undefined) return undefined;
  const us = BigInt(value);
  return `${us / 1_000_000n}.${String(us % 1_000_000n).padStart(6, '0')}`.padStart(12);
}

/** Epoch seconds of a microsecond timestamp field (fractions kept), when it holds one. */
function seconds(value: JsonValue | readonly JsonValue[] | undefined): number | undefined {
  return typeof value === 'string' && MICROSECONDS.test(value) ? Number(value) / 1e6 : undefined;
}

/**
 * The entry's time: `_SOURCE_REALTIME_TIMESTAMP` (when the message was sent, set by journald)
 * or else `__REALTIME_TIMESTAMP` (when journald received it), as fail2ban takes it; never read
 * from the message. Undefined for a line that is not an entry.
 */
export function journalTime(json: JournalJson): number | undefined {
  return seconds(json._SOURCE_REALTIME_TIMESTAMP) ?? seconds(json.__REALTIME_TIMESTAMP);
}

/**
 * The line fail2ban's journal backend feeds to filters (filtersystemd.py formatJournalEntry):
 * `_HOSTNAME SYSLOG_IDENTIFIER[SYSLOG_PID]: MESSAGE`, with `_COMM` for a missing identifier and
 * `_PID` for a missing PID, the kernel's monotonic time after `kernel:`, the values of a repeated
 * MESSAGE joined by spaces, and every new line written as `\n`. `decode` reads values that are
 * not UTF-8 (the jail's `logencoding`).
 */
export function formatJournalLine(json: JournalJson, decode: LineDecoder): string {
  const elements: string[] = [];
  const host = first(json, '_HOSTNAME', decode);
  if (host) elements.push(host);
  const identifier = first(json, 'SYSLOG_IDENTIFIER', decode) || first(json, '_COMM', decode);
  if (identifier) {
    const id = pid(json, 'SYSLOG_PID', decode) ?? pid(json, '_PID', decode);
    const tag = `${identifier}${id === undefined ? '' : `[${id}]`}:`;
    elements.push(tag);
    const monotonic = tag === 'kernel:' ? monotonicSeconds(json) : undefined;
    if (monotonic !== undefined) elements.push(`[${monotonic}]`);
  }
  elements.push(rawValues(json.MESSAGE).map((v) => text(v, decode)).join(' '));
  return elements.join(' ').replaceAll('\n', '\\n');
}
