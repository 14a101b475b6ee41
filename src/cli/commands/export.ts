import type { Command } from 'commander';
import { InputError, laterExpiry, messageOf, OperationError, type Ban } from '../../core/index.js';
// The export formats alone: the backends' index brings every firewall's module.
import { NotRegularFileError, rewriteFile } from '../../backends/atomic-file.js';
import { ANY_JAIL, hostsDenyBlock, representHostsDeny } from '../../backends/hosts-deny.js';
import { joinHostsDeny, readHostsDeny } from '../../backends/hosts-deny-file.js';
import { DEFAULT_EXPORT_SET, exportSetNames, ipsetExportLines } from '../../backends/ipset-export.js';
import { checkExportTable, DEFAULT_EXPORT_TABLE, nftExportLines } from '../../backends/nftables-export.js';
import type { Entry } from '../../backends/index.js';
import { entryOf } from '../reconcile-pass.js';
import type { BanStore } from '../../store/index.js';
import { createContext, jailOption } from '../context.js';
import { atomicFileSink, stdoutSink, type Sink } from '../output-file.js';
import { sinceOption } from '../since-option.js';
import { banCsvLines, banJsonParts } from '../output.js';

interface FilterOptions {
  jail?: string;
  since?: string;
  permanentOnly?: boolean;
}

interface ExportOptions extends FilterOptions {
  file?: string;
  /** ipset's set name. */
  set?: string;
  /** nft's table name. */
  table?: string;
}

/** Which active bans an export writes. */
interface Selection {
  readonly jail: string | undefined;
  keep(ban: Ban): boolean;
}

function selectionOf(options: FilterOptions, now: number): Selection {
  const jail = options.jail === undefined ? undefined : jailOption(options.jail, '');
  const since = options.since === undefined ? undefined : sinceOption(options.since, now);
  const permanentOnly = options.permanentOnly === true;
  return { jail, keep: (ban) => (since === undefined || ban.bannedAt >= since) && (!permanentOnly || ban.expiresAt === null) };
}

function* kept(bans: Iterable<Ban>, selection: Selection): Generator<Ban> {
  for (const ban of bans) if (selection.keep(ban)) yield ban;
}

/** One entry per address, from bans ordered by address: the longest ban wins. */
function* byAddress(bans: Iterable<Ban>): Generator<Entry> {
  let current: Entry | undefined;
  for (const ban of bans) {
    if (current?.address === ban.address) {
      current = { ...current, expiresAt: laterExpiry(current.expiresAt, ban.expiresAt) };
      continue;
    }
    if (current) yield current;
    current = { ...entryOf(ban), jail: ANY_JAIL };
  }
  if (current) yield current;
}

/** What one format writes: its pieces of text, counted in `unit`. */
interface Output {
  readonly parts: Iterable<string>;
  readonly unit: 'addresses' | 'bans';
  count(): number;
}

/** The text `format` makes of `items`, counting the items as they pass. */
function output<T>(items: Iterable<T>, unit: Output['unit'], format: (items: Iterable<T>) => Iterable<string>): Output {
  let count = 0;
  const counted = (function* () {
    for (const item of items) {
      count++;
      yield item;
    }
  })();
  return { parts: format(counted), unit, count: () => count };
}

/** `--file PATH` as where to write: undefined for stdout (no option, or `-`). */
function fileOption(file: string | undefined): string | undefined {
  return file === '-' ? undefined : file;
}

/** A stream (a FIFO, a terminal, /dev/stdout) is never replaced by a file: exit 2, with the way to write to one. */
function streamRefused(error: unknown): unknown {
  if (!(error instanceof NotRegularFileError)) return error;
  return new InputError(`${error.message}: --file writes regular files only; for a stream use --file - or redirect stdout`, { cause: error });
}

function write(file: string | undefined, out: Output): void {
  let sink: Sink;
  try {
    sink = file === undefined ? stdoutSink() : atomicFileSink(file);
  } catch (error) {
    throw streamRefused(error);
  }
  try {
    for (const part of out.parts) sink.write(part);
    sink.commit();
  } catch (error) {
    sink.discard();
    throw error;
  }
  if (file !== undefined) process.stdout.write(`wrote ${out.count()} ${out.unit} to ${file}\n`);
}

/** The selected bans merged per address, in address order, streamed. */
function addresses(store: BanStore, selection: Selection, now: number): Iterable<Entry> {
  return byAddress(kept(store.activeByAddress(now, selection.jail), selection));
}

function bans(store: BanStore, selection: Selection, now: number): Iterable<Ban> {
  return kept(store.active(now, selection.jail), selection);
}

function familyCounts(entries: Iterable<Entry>): { 4: number; 6: number } {
  const counts = { 4: 0, 6: 0 };
  for (const entry of entries) counts[entry.family]++;
  return counts;
}

function* lines(entries: Iterable<Entry>): Generator<string> {
  for (const entry of entries) yield `${entry.address}\n`;
}

interface Format {
  readonly name: string;
  readonly description: string;
  readonly options?: (command: Command) => Command;
  /** Checks the format's own options (before the database is opened), then makes the output from the store. */
  prepare(options: ExportOptions, selection: Selection, now: number): (store: BanStore) => Output;
}

const FORMATS: readonly Format[] = [
  {
    name: 'plain',
    description: 'one address or network per line (what import list reads)',
    prepare: (_options, selection, now) => (store) => output(addresses(store, selection, now), 'addresses', lines),
  },
  {
    name: 'ipset',
    description: `a file for ipset restore: hash:net sets NAME and NAME-6 (default ${DEFAULT_EXPORT_SET}) with remaining times`,
    options: (command) => command.option('--set <name>', 'name of the IPv4 set; the IPv6 one gets -6', DEFAULT_EXPORT_SET),
    prepare(options, selection, now) {
      const names = exportSetNames(options.set ?? DEFAULT_EXPORT_SET);
      return (store) => {
        // Two passes: the create lines come first and are sized for what follows.
        const counts = familyCounts(addresses(store, selection, now));
        return output(addresses(store, selection, now), 'addresses', (entries) => ipsetExportLines(names, counts, entries, now));
      };
    },
  },
  {
    name: 'nft',
    description: `a file for nft -f: table inet NAME (default ${DEFAULT_EXPORT_TABLE}), sets addr4 net4 addr6 net6 with remaining times`,
    options: (command) => command.option('--table <name>', 'name of the inet table', DEFAULT_EXPORT_TABLE),
    prepare(options, selection, now) {
      const table = checkExportTable(options.table ?? DEFAULT_EXPORT_TABLE);
      return (store) => output(addresses(store, selection, now), 'addresses', (entries) => nftExportLines(table, entries, now));
    },
  },
  {
    name: 'json',
    description: 'the bans as a JSON array of Ban objects, as list --json prints them',
    prepare: (_options, selection, now) => (store) => output(bans(store, selection, now), 'bans', (items) => banJsonParts(items, now)),
  },
  {
    name: 'csv',
    description: 'the bans as CSV (RFC 4180): a header, then one row per ban with the fields of the Ban JSON',
    prepare: (_options, selection, now) => (store) => output(bans(store, selection, now), 'bans', (items) => banCsvLines(items, now)),
  },
];

const FILE_HELP = 'write to this file instead of stdout (- for stdout): a regular file, replaced atomically (a temporary file beside'
  + ' the file a symlink leads to, then a rename)';

function withFilters(command: Command): Command {
  return command
    .option('-j, --jail <jail>', 'only the bans of this jail')
    .option('--since <when>', 'only bans made since then: a duration ago (12h, 7d) or an ISO date (2026-05-01)')
    .option('--permanent-only', 'only permanent bans');
}

export function register(program: Command): void {
  const command = program
    .command('export')
    .description('write the active bans out in another format: hosts-deny, plain, ipset, nft, json, csv');
  withFilters(command
    .command('hosts-deny')
    .description('the active bans as tcp_wrappers lines (ALL: ADDR, IPv6 in [ ])')
    .option('-f, --file <path>', 'write them into the marked block of this regular file, keeping the rest of it byte for byte (- for stdout)')
    .option('--daemons <list>', 'daemon list of each line (default: [hosts-deny] daemons, ALL)'))
    .addHelpText('after', `
Without --file the lines go to stdout. With --file (e.g. /etc/hosts.deny) they replace the block
between "# BEGIN f2b-store" and "# END f2b-store" (appended when missing), written atomically
beside the file a symlink leads to (the symlink stays), or in place when only the file itself
may be written (its directory is read-only, as under the systemd unit).`)
    .action(async (options: FilterOptions & { file?: string; daemons?: string }, sub: Command) => {
      const ctx = createContext(sub);
      const selection = selectionOf(options, ctx.now);
      const daemons = options.daemons ?? ctx.config().hostsDenyDaemons;
      if (!/^[^:\n#]+$/.test(daemons)) throw new InputError(`bad daemon list "${daemons}": e.g. ALL, or sshd, vsftpd`);
      const store = await ctx.store();
      const all = selection.jail === undefined ? store.activeAnyOrder(ctx.now) : store.active(ctx.now, selection.jail);
      const block = hostsDenyBlock(representHostsDeny([...kept(all, selection)].map(entryOf)), daemons);
      const file = fileOption(options.file);
      if (file === undefined) {
        process.stdout.write(block.map((line) => `${line}\n`).join(''));
        return;
      }
      try {
        const current = await readHostsDeny(file);
        await rewriteFile(file, joinHostsDeny({ ...current, block }));
      } catch (error) {
        const refused = streamRefused(error);
        if (refused !== error) throw refused;
        throw new OperationError(`cannot write ${file}: ${messageOf(error)}`, { cause: error });
      }
      process.stdout.write(`wrote ${block.length} addresses to ${file}\n`);
    });
  for (const format of FORMATS) {
    const sub = withFilters(command.command(format.name).description(format.description).option('-f, --file <path>', FILE_HELP));
    (format.options?.(sub) ?? sub).action(async (options: ExportOptions, invoked: Command) => {
      const ctx = createContext(invoked);
      const make = format.prepare(options, selectionOf(options, ctx.now), ctx.now);
      write(fileOption(options.file), make(await ctx.store()));
    });
  }
  command.addHelpText('after', `
Filters: --jail, --since (a duration ago or an ISO date), --permanent-only. Each address is
written once, with its longest ban, except by json and csv, which write every ban.`);
}
