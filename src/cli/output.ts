import { banToJson, endedAt, formatDuration, type Ban } from '../core/index.js';
import type { BackendReport, RefusedBan } from '../reconcile/index.js';

/** Buffers small writes into large ones: printing 1,000,000 rows one write each is slow. */
export class Chunked {
  private parts: string[] = [];
  private size = 0;
  private readonly out: (text: string) => void;

  /** `out` receives the joined chunks; stdout by default. */
  constructor(out: (text: string) => void = (text) => { process.stdout.write(text); }) {
    this.out = out;
  }

  write(text: string): void {
    this.parts.push(text);
    this.size += text.length;
    if (this.size >= 1 << 16) this.flush();
  }

  flush(): void {
    if (this.parts.length > 0) this.out(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** `[Ban…]` as a JSON array, in pieces: never built in memory. */
export function* banJsonParts(bans: Iterable<Ban>, now: number): Generator<string> {
  let first = true;
  yield '[';
  for (const ban of bans) {
    yield `${first ? '' : ','}${JSON.stringify(banToJson(ban, now))}`;
    first = false;
  }
  yield ']\n';
}

/** Prints `[Ban…]` as a JSON array without building it in memory. */
export function printBansJson(bans: Iterable<Ban>, now: number): void {
  const out = new Chunked();
  for (const part of banJsonParts(bans, now)) out.write(part);
  out.flush();
}

/** The fields of the Ban JSON, in its order: the CSV columns. */
const CSV_COLUMNS = ['address', 'jail', 'bannedAt', 'expiresAt', 'source', 'reason', 'failures', 'banCount', 'liftedAt', 'liftedBy', 'forced'];

function csvField(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** CSV as RFC 4180 has it: a header, then one record per ban, CRLF line ends, quoted where needed; null is empty. */
export function* banCsvLines(bans: Iterable<Ban>, now: number): Generator<string> {
  yield `${CSV_COLUMNS.join(',')}\r\n`;
  for (const ban of bans) {
    const json = banToJson(ban, now);
    yield `${CSV_COLUMNS.map((column) => csvField(json[column])).join(',')}\r\n`;
  }
}

/** `in 6d 23h`, `5m ago`, `permanent`. */
export function relativeTime(at: number | null, now: number): string {
  if (at === null) return 'permanent';
  if (at === now) return 'just now';
  return at > now ? `in ${formatDuration(at - now)}` : `${formatDuration(now - at)} ago`;
}

/** How many rows set the column widths before the rest stream out (like `ps`, wider cells just push). */
const WIDTH_SAMPLE = 2000;

function tableLine(cells: readonly string[], widths: readonly number[]): string {
  const last = cells.length - 1;
  return `${cells.map((c, i) => (i === last ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()}\n`;
}

/** A table whose rows each have lines of their own under them (`notes`, printed indented); for a few rows: all are held to size the columns. */
export function printNotedTable(headers: readonly string[], rows: readonly { cells: readonly string[]; notes: readonly string[] }[]): void {
  const widths = headers.map((h, i) => rows.reduce((width, row) => Math.max(width, row.cells[i]?.length ?? 0), h.length));
  const out = new Chunked();
  out.write(tableLine(headers, widths));
  for (const row of rows) {
    out.write(tableLine(row.cells, widths));
    for (const note of row.notes) out.write(`    ${note}\n`);
  }
  out.flush();
}

/**
 * Prints aligned columns separated by two spaces. Streams: widths come from the first rows, so a
 * million rows print without being held in memory.
 */
export function printTable(headers: readonly string[], rows: Iterable<readonly string[]>): number {
  const out = new Chunked();
  const widths = headers.map((h) => h.length);
  const emit = (cells: readonly string[]): void => { out.write(tableLine(cells, widths)); };
  let pending: (readonly string[])[] | undefined = [];
  const release = (): void => {
    emit(headers);
    pending?.forEach(emit);
    pending = undefined;
  };
  let count = 0;
  for (const row of rows) {
    count++;
    if (!pending) {
      emit(row);
      continue;
    }
    pending.push(row);
    row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
    if (pending.length === WIDTH_SAMPLE) release();
  }
  if (pending && count > 0) release();
  out.flush();
  return count;
}

/** Table columns for a ban; for history, the last time column says what ended it and when. */
export function banRow(ban: Ban, now: number): string[] {
  const ended = endedAt(ban, now);
  const ends = ended === null ? relativeTime(ban.expiresAt, now) : `${ban.liftedBy ?? 'expired'} ${relativeTime(ended, now)}`;
  return [ban.address, ban.jail, relativeTime(ban.bannedAt, now), ends, ban.origin === undefined ? ban.source : `${ban.source}:${ban.origin}`, String(ban.banCount), ban.reason ?? ''];
}

export function banHeaders(history: boolean): string[] {
  return ['ADDRESS', 'JAIL', 'BANNED', history ? 'ENDS' : 'EXPIRES', 'SOURCE', 'BANS', 'REASON'];
}

/** `blocked by 198.51.100.0/24 in jail sshd (expires in 2h)`: an active ban that keeps an address blocked. */
export function blockedBy(ban: Ban, now: number): string {
  const when = ban.expiresAt === null ? 'permanent' : `expires ${relativeTime(ban.expiresAt, now)}`;
  return `blocked by ${ban.address} in jail ${ban.jail} (${when})`;
}

/** Refused bans named one by one on stderr before the rest are only counted. */
const REFUSED_SHOWN = 50;

/** Names on stderr the active bans the lockout floor kept out of every backend. */
export function tellRefused(refused: readonly RefusedBan[]): void {
  for (const { ban, why } of refused.slice(0, REFUSED_SHOWN)) {
    console.error(`f2b-store: not applied: ${JSON.stringify(ban.address)} in jail ${JSON.stringify(ban.jail)}: ${why} (the lockout floor; f2b-store unban lifts it, ban --force applies it)`);
  }
  if (refused.length > REFUSED_SHOWN) console.error(`f2b-store: not applied: ${refused.length - REFUSED_SHOWN} more bans refused by the lockout floor`);
}

/** Warns on stderr of entries a backend kept because the database cannot account for them (see reconcile's needsConsent). */
export function tellKept(reports: readonly BackendReport[]): void {
  for (const r of reports.filter((report) => report.kept > 0)) {
    console.error(`f2b-store: warning: ${r.name} keeps ${r.kept} entries that no ban wants: the database has held fewer bans than that `
      + '(is --db right?); f2b-store reconcile --yes removes them');
  }
}

/** One line naming what went wrong in each backend, or undefined when all went well. */
export function backendTrouble(reports: readonly BackendReport[]): string | undefined {
  const problems = reports.flatMap((r) => {
    const [first] = r.failed;
    return [
      ...(r.error === null ? [] : [r.error.startsWith(`${r.name}:`) ? r.error : `${r.name}: ${r.error}`]),
      ...(r.skipped ?? []).map((skip) => `${r.name}: ${skip.error}`),
      ...(first === undefined ? [] : [`${r.name}: ${r.failed.length} entries failed (first: ${first.address} in ${first.jail}: ${first.error})`]),
    ];
  });
  return problems.length === 0 ? undefined : problems.join('; ');
}
