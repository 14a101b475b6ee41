import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../core/index.js';
import { readConfig } from './config-tree.js';
import { didYouMean } from './did-you-mean.js';
import { getOption } from './interpolation.js';
import { parseOptionSpecList } from './option-list.js';
import { originAt, sourceLines, where, type Origin, type SourcedText } from './sourced-text.js';
import type { BackendCatalog } from './store-config.js';

/** fail2ban's own actions, where Debian's package puts them. */
export const FAIL2BAN_ACTION_DIR = '/etc/fail2ban/action.d';

/** Where an action name is looked up: the config dir's `action.d`, then fail2ban's. */
export function actionSearchDirs(configDir: string): string[] {
  return [join(configDir, 'action.d'), FAIL2BAN_ACTION_DIR];
}

/** One entry of a jail's `action =`: `name[k=v, …]`, and the line that wrote it. */
export interface ActionSpec {
  readonly name: string;
  readonly options: Readonly<Record<string, string>>;
  readonly origin: Origin;
}

/** An action.d action f2b-store does not do natively: it runs as fail2ban runs it. */
export interface JailAction extends ActionSpec {
  /** The action's file (`.conf`, `.local` or `.py`) in the action search dirs; absent when not found. */
  readonly file?: string;
}

export type BlockType = 'reject' | 'drop';

/** What a jail's actions come to. */
export interface ActionMapping {
  /** Native backends doing the work of fail2ban's firewall actions, each once. */
  readonly backends: readonly string[];
  /** How the native firewall backends refuse a banned address. */
  readonly blocktype: BlockType;
  readonly actions: readonly JailAction[];
}

/** Offsets of the new lines in `text` that end one action entry: not inside `[...]`, not before a further `[...]`. */
function entryEnds(text: string): number[] {
  const ends: number[] = [];
  let depth = 0;
  for (let at = 0; at < text.length; at++) {
    const c = text.charAt(at);
    if (c === '[') {
      depth++;
    } else if (c === ']') {
      depth = Math.max(0, depth - 1);
    } else if (depth > 0 && c === '=' && /["']/.test(text.charAt(at + 1))) {
      // A quoted value may hold "]" and new lines.
      const close = text.indexOf(text.charAt(at + 1), at + 2);
      if (close >= 0) at = close;
    } else if (c === '\n' && depth === 0 && !/^\s*\[/.test(text.slice(at + 1))) {
      ends.push(at);
    }
  }
  return ends;
}

/**
 * Parses a jail's `action =` (after `%(...)s`, e.g. `%(action_mw)s`): entries separated by
 * spaces or new lines, a `[...]` may span lines. Each entry gets the line that wrote it.
 */
export function parseActionList(value: SourcedText, label: string): ActionSpec[] {
  const lines = sourceLines(value);
  const specs: ActionSpec[] = [];
  let start = 0;
  for (const end of [...entryEnds(value.text), value.text.length]) {
    const chunk = value.text.slice(start, end);
    const from = start;
    const firstLine = value.text.slice(0, from).split('\n').length - 1;
    const skipped = chunk.length - chunk.trimStart().length;
    const line = lines[firstLine + (chunk.slice(0, skipped).match(/\n/g)?.length ?? 0)];
    const origin = line === undefined ? originAt(value, from) : { file: line.file, line: line.line };
    for (const spec of parseOptionSpecList(chunk, (at) => `${where(originAt(value, from + at))}: ${label}`)) {
      specs.push({ ...spec, origin });
    }
    start = end + 1;
  }
  return specs;
}

/** `REJECT --reject-with …`, `reject`, `DROP`, `drop`; undefined for anything else (RETURN, a chain, `counter redirect …`). */
export function blockTypeOf(text: string): BlockType | undefined {
  const word = text.trim().split(/\s+/)[0]?.toLowerCase();
  return word === 'reject' || word === 'drop' ? word : undefined;
}

/** Finds action.d files and reads their [Init] blocktype, each file once. */
export interface ActionFiles {
  readonly dirs: readonly string[];
  find(name: string): string | undefined;
  /** Every action name the dirs hold, for a did-you-mean. */
  names(): string[];
  /** The [Init] `blocktype` of the action's file, when it has one. */
  blocktype(name: string): string | undefined;
}

export function actionFiles(searchDirs: readonly string[]): ActionFiles {
  const found = new Map<string, string | undefined>();
  const blocktypes = new Map<string, string | undefined>();
  const find = (name: string): string | undefined => {
    if (!found.has(name)) {
      const candidates = name.endsWith('.py') ? [name] : [`${name}.conf`, `${name}.local`];
      const file = searchDirs.flatMap((dir) => candidates.map((c) => join(dir, c))).find((f) => existsSync(f));
      found.set(name, file);
    }
    return found.get(name);
  };
  const blocktype = (name: string): string | undefined => {
    if (!blocktypes.has(name)) {
      const file = find(name);
      const tree = file === undefined || file.endsWith('.py') ? undefined : readConfig(dirname(file), basename(file).replace(/\.(conf|local)$/, ''));
      blocktypes.set(name, tree === undefined ? undefined : getOption(tree, 'Init', 'blocktype')?.text);
    }
    return blocktypes.get(name);
  };
  const names = (): string[] => [...new Set(searchDirs.flatMap((dir) => {
    try {
      return readdirSync(dir).flatMap((file) => /^(.+)\.(?:conf|local|py)$/.exec(file)?.[1] ?? []);
    } catch {
      return [];
    }
  }))];
  return { dirs: searchDirs, find, names, blocktype };
}

/**
 * Maps a jail's actions as fail2ban would run them: its stock firewall actions (iptables*,
 * iptables-ipset*, nftables*, firewallcmd-*, shorewall, hostsdeny: the catalog's) become native backends, unless their
 * blocktype is neither a reject nor a drop; everything else stays an action.d action. For an
 * enabled jail, an action.d action without a file is an error.
 */
export function mapActions(
  specs: readonly ActionSpec[], files: ActionFiles, jail: { name: string; enabled: boolean }, catalog: BackendCatalog,
): ActionMapping {
  const backends = new Set<string>();
  let blocktype: BlockType | undefined;
  const actions: JailAction[] = [];
  for (const spec of specs) {
    const backend = catalog.nativeOf(spec.name);
    if (backend === 'hosts-deny') {
      backends.add(backend);
      continue;
    }
    const type = backend === undefined ? undefined : blockTypeOf(spec.options.blocktype ?? files.blocktype(spec.name) ?? 'reject');
    if (backend !== undefined && type !== undefined) {
      backends.add(backend);
      blocktype ??= type;
      continue;
    }
    const file = files.find(spec.name);
    if (file === undefined && jail.enabled) {
      throw new InputError(`${where(spec.origin)}: [${jail.name}] action: no action "${spec.name}"${didYouMean(spec.name, files.names())} in ${files.dirs.join(', ') || '(no action directories)'}`);
    }
    actions.push({ ...spec, ...(file === undefined ? {} : { file }) });
  }
  return { backends: [...backends], blocktype: blocktype ?? 'reject', actions };
}
