import { styleText } from 'node:util';
import type { BanSource } from '../core/index.js';
import type { BanStats, JailCounts } from '../store/index.js';
import { relativeTime } from './output.js';

/**
 * `stats` as text: sparklines of bans per hour and per day for each jail, bars for sources,
 * networks and repeat offenders. Written here in a few lines: the sparkline packages on npm draw
 * a count of 0 the same as a small one (sparkly, and it brings chalk) or are CLI tools with
 * their own dependencies (sparkline, bar-horizontal, babar).
 */

const TICKS = '▁▂▃▄▅▆▇█';
/** Eighths of a cell, for bars: nothing, then ▏ (one eighth) to ▉ (seven). */
const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
const BAR_WIDTH = 30;

/** One character per value, scaled to the largest; 0 is a blank, any other count at least ▁. */
export function sparkline(values: readonly number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (v <= 0 ? ' ' : TICKS[Math.max(0, Math.ceil((v / max) * TICKS.length) - 1)])).join('');
}

/** A horizontal bar `value / max` of `width` cells, in eighths of a cell; any count above 0 shows at least ▏. */
export function bar(value: number, max: number, width = BAR_WIDTH): string {
  if (value <= 0 || max <= 0) return '';
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/** Colours only where stdout takes them: a terminal, without NO_COLOR (node's styleText decides). */
const paint = (format: Parameters<typeof styleText>[0], text: string): string => (text === '' ? text : styleText(format, text));

/**
 * A count as en-US writes it (12,345). Not toLocaleString: its first call loads ICU's number
 * formats, about 20 ms of CPU in a `stats` that takes 300.
 */
const count = (n: number): string => String(n).replace(/\B(?=(\d{3})+$)/g, ',');
const utc = (at: number): string => new Date(at * 1000).toISOString().slice(0, 16).replace('T', ' ');

/** Labels every `step` characters under a sparkline of `starts`. */
function axis(starts: readonly number[], step: number, label: (at: number) => string): string {
  const cells = Array<string>(starts.length).fill(' ');
  starts.forEach((at, i) => {
    const text = label(at);
    if (i % step === 0 && i + text.length <= starts.length) [...text].forEach((c, k) => { cells[i + k] = c; });
  });
  return cells.join('');
}

function timeline(title: string, stats: BanStats, pick: (jail: JailCounts) => readonly number[], starts: readonly number[], axisLine: string): string[] {
  const rows: [string, readonly number[]][] = stats.jails.map((jail) => [jail.jail, pick(jail)]);
  if (rows.length > 1) rows.push(['all', starts.map((_, i) => rows.reduce((sum, [, values]) => sum + (values[i] ?? 0), 0))]);
  const lines = rows.map(([jail, values]) => ({ jail, values, bans: count(values.reduce((sum, n) => sum + n, 0)), peak: count(Math.max(0, ...values)) }));
  const name = Math.max(4, ...lines.map((l) => l.jail.length));
  const wide = Math.max(4, ...lines.map((l) => l.bans.length));
  const widePeak = Math.max(4, ...lines.map((l) => l.peak.length));
  return [
    paint('bold', title),
    `  ${' '.repeat(name)}  ${paint('dim', axisLine)}  ${'bans'.padStart(wide)}  ${'peak'.padStart(widePeak)}`,
    ...lines.map((l) => `  ${l.jail.padEnd(name)}  ${paint('cyan', sparkline(l.values))}  ${l.bans.padStart(wide)}  ${l.peak.padStart(widePeak)}`),
  ];
}

/** Rows of `label  bar  figures`, labels padded to the longest. */
function bars(title: string, rows: readonly { label: string; value: number; figures: string }[]): string[] {
  if (rows.length === 0) return [];
  const max = Math.max(...rows.map((r) => r.value));
  const label = Math.max(...rows.map((r) => r.label.length));
  return [
    paint('bold', title),
    ...rows.map((r) => {
      const drawn = bar(r.value, max);
      return `  ${r.label.padEnd(label)}  ${paint('green', drawn)}${' '.repeat(BAR_WIDTH - drawn.length)}  ${r.figures}`;
    }),
  ];
}

/** The whole picture; `stats.bans` must be above 0 (the caller says "no bans" in one line otherwise). */
export function statsPicture(stats: BanStats, now: number): string {
  const jails = stats.jails.length;
  const hours = stats.hours.length;
  const days = stats.days.length;
  const widest = (values: readonly number[]): number => Math.max(0, ...values.map((n) => count(n).length));
  /** `5 bans` and `1 ban ` with the numbers right-aligned, the words left-aligned. */
  const counted = (n: number, width: number, one: string, many: string): string => `${count(n).padStart(width)} ${n === 1 ? one.padEnd(many.length) : many}`;
  const sourceWidth = widest([...stats.sources.values()]);
  const sourceRows = [...stats.sources].map(([source, n]: [BanSource, number]) => ({
    label: source, value: n, figures: `${count(n).padStart(sourceWidth)}  ${(100 * n / stats.bans).toFixed(1).padStart(5)}%`,
  }));
  const networkWidth = widest(stats.networks.map((n) => n.bans));
  const networkRows = stats.networks.map((n) => ({
    label: n.network, value: n.bans, figures: `${counted(n.bans, networkWidth, 'ban', 'bans')}  ${count(n.addresses)} ${n.addresses === 1 ? 'address' : 'addresses'}`,
  }));
  const offenderWidth = widest(stats.offenders.map((o) => o.bans));
  const offenderRows = stats.offenders.map((o) => ({
    label: o.address, value: o.bans, figures: `${count(o.bans).padStart(offenderWidth)} bans  last ${relativeTime(o.lastBannedAt, now)}  ${o.jails.join(', ')}`,
  }));
  const sections = [
    [`${paint('bold', `${count(stats.bans)} bans`)} in ${jails} jail${jails === 1 ? '' : 's'} from ${utc(stats.since)} to ${utc(stats.until)} UTC`],
    timeline(`Per hour, last ${hours} hour${hours === 1 ? '' : 's'} (UTC)`, stats, (j) => j.hourly, stats.hours,
      axis(stats.hours, 6, (at) => new Date(at * 1000).toISOString().slice(11, 13))),
    timeline(`Per day, last ${days} day${days === 1 ? '' : 's'} (UTC)`, stats, (j) => j.daily, stats.days,
      axis(stats.days, 7, (at) => new Date(at * 1000).toISOString().slice(8, 10))),
    bars('By source', sourceRows),
    bars('Top networks (/24, /48)', networkRows),
    offenderRows.length > 0 ? bars('Top repeat offenders', offenderRows) : [paint('bold', 'Top repeat offenders'), '  none: no address was banned twice'],
  ];
  return `${sections.filter((lines) => lines.length > 0).map((lines) => lines.join('\n')).join('\n\n')}\n`;
}
