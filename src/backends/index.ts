import { InputError, type ActionDefinition, type Exclusive } from '../core/index.js';
import { createActionBackend, type BanDetailsLookup } from './action-commands.js';
import type { Exec, Follow, PackageHints } from './exec.js';
import { createFirewalldBackend } from './firewalld.js';
import { createHostsDenyBackend, type HostsDenyOptions } from './hosts-deny.js';
import { createIpsetBackend } from './ipset.js';
import { createIptablesBackend } from './iptables.js';
import { createNftablesBackend } from './nftables.js';
import { serialised } from './serialised.js';
import { createShorewallBackend } from './shorewall.js';
import type { Backend } from './types.js';

export { describeCommand, ExecError, systemExec, systemFollow, type Exec, type ExecFailure, type Follow, type PackageHints } from './exec.js';
export { ANY_JAIL, createHostsDenyBackend, hostsDenyBlock, representHostsDeny, type HostsDenyOptions } from './hosts-deny.js';
export { NotRegularFileError, openAtomicFile, resolveTarget, rewriteFile, writeFileAtomic, type AtomicFile } from './atomic-file.js';
export { joinHostsDeny, readHostsDeny } from './hosts-deny-file.js';
export { DEFAULT_EXPORT_SET, exportSetNames, ipsetExportLines } from './ipset-export.js';
export { checkExportTable, DEFAULT_EXPORT_TABLE, nftExportLines } from './nftables-export.js';
export { actionStateFile, createActionBackend, type ActionBackendOptions, type BanDetails, type BanDetailsLookup } from './action-commands.js';
export { runShell, type ShellRunner } from './shell-command.js';
import { forJails, routeJails } from './jail-routing.js';
export { forJails, routeJails };
export { readHostAddresses } from './host-addresses.js';
export { parseShorewallDynamic } from './shorewall.js';
export type * from './types.js';

export interface BackendSettings {
  readonly exec: Exec;
  /** For event streams (nftables' monitor); without it, a backend only counts on a timer. */
  readonly follow?: Follow;
  readonly hostsDeny: HostsDenyOptions;
}

/** A backend as the registry knows it. */
export interface BackendKind {
  readonly create: (settings: BackendSettings) => Backend;
  /** fail2ban's stock actions it does natively: names, or prefixes ending in `*` (the longest match wins). */
  readonly replaces: readonly string[];
  /** The package of each command it runs, for the "not installed" message. */
  readonly packages: Readonly<Record<string, string>>;
}

const IPTABLES_PACKAGES = {
  iptables: 'iptables', ip6tables: 'iptables', 'iptables-restore': 'iptables', 'ip6tables-restore': 'iptables',
  'iptables-save': 'iptables', 'ip6tables-save': 'iptables',
};

/**
 * Every backend, once: the configuration's names, fail2ban's actions each replaces (see
 * config/action-mapping) and the package hints derive from here. Adding one: see README.md.
 */
const REGISTRY = {
  nftables: {
    create: (s) => createNftablesBackend({ exec: s.exec, ...(s.follow ? { follow: s.follow } : {}) }),
    replaces: ['nftables', 'nftables-*'], packages: { nft: 'nftables' },
  },
  ipset: { create: (s) => createIpsetBackend({ exec: s.exec }), replaces: ['iptables-ipset*'], packages: { ipset: 'ipset', ...IPTABLES_PACKAGES } },
  iptables: { create: (s) => createIptablesBackend({ exec: s.exec }), replaces: ['iptables', 'iptables-*'], packages: IPTABLES_PACKAGES },
  firewalld: {
    create: (s) => createFirewalldBackend({ exec: s.exec }),
    replaces: ['firewallcmd-*'], packages: { 'firewall-cmd': 'firewalld', 'dbus-send': 'dbus-bin (dbus-tools on Fedora)' },
  },
  'hosts-deny': { create: (s) => createHostsDenyBackend(s.hostsDeny), replaces: ['hostsdeny'], packages: {} },
  shorewall: { create: (s) => createShorewallBackend({ exec: s.exec }), replaces: ['shorewall'], packages: { shorewall: 'shorewall', shorewall6: 'shorewall6' } },
} satisfies Record<string, BackendKind>;

export type BackendName = keyof typeof REGISTRY;

/** `none` is no backend at all: bans are only recorded. */
export const NO_BACKEND = 'none';

const KINDS: ReadonlyMap<string, BackendKind> = new Map(Object.entries(REGISTRY));

/** What the configuration may name, and which backend does the work of a fail2ban action (see config's BackendCatalog). */
export const BACKEND_CATALOG = {
  names: [...KINDS.keys(), NO_BACKEND],
  nativeOf(action: string): string | undefined {
    let found: { name: string; length: number } | undefined;
    for (const [name, kind] of KINDS) {
      for (const pattern of kind.replaces) {
        const prefix = pattern.endsWith('*') ? pattern.slice(0, -1) : undefined;
        const length = prefix === undefined ? (pattern === action ? Infinity : -1) : action.startsWith(prefix) ? prefix.length : -1;
        if (length >= 0 && length > (found?.length ?? -1)) found = { name, length };
      }
    }
    return found?.name;
  },
} as const;

/** The package of each command some backend runs, for the "not installed" message. */
export const PACKAGE_HINTS: PackageHints = Object.assign({}, ...[...KINDS.values()].map((kind) => kind.packages)) as PackageHints;

/** Makes the named backends; `none` makes none. */
export function createBackends(names: readonly string[], settings: BackendSettings): Backend[] {
  return names.filter((name) => name !== NO_BACKEND).map((name) => {
    const kind = KINDS.get(name);
    if (!kind) throw new InputError(`unknown backend "${name}" (known: ${BACKEND_CATALOG.names.join(', ')})`);
    return kind.create(settings);
  });
}

/** What backendsFor reads of the store's configuration. */
export interface BackendConfig {
  /** `[reconcile] backends`. */
  readonly backends: readonly string[];
  readonly hostsDenyFile: string;
  readonly hostsDenyDaemons: string;
}

/** A jail as backendsFor needs it. */
export interface BackendJail {
  readonly name: string;
  /** The native backends its fail2ban actions map to; empty: the configured ones hold it. */
  readonly backends: readonly string[];
  /** Its action.d actions, loaded; they become backends only with `BackendRun.actions` (the daemon's). */
  readonly actions?: readonly ActionDefinition[];
}

/** How the chosen backends run. */
export interface BackendRun {
  readonly exec: Exec;
  readonly follow?: Follow;
  /** `--backend`: these hold every ban, whatever the jails' actions say. */
  readonly override?: readonly string[];
  /** Where action.d actions keep their record, and what the store knows of a ban: given, the jails' actions run too. */
  readonly actions?: { readonly stateFile: (jail: string, actname: string) => string; readonly details: BanDetailsLookup };
  /** One writer of the firewall at a time among the processes of this host (the store's firewallLock): given, every change runs under it. */
  readonly exclusive?: Exclusive;
}

/**
 * The one place that chooses backends, for every command and the daemon: `--backend` puts every
 * ban there; otherwise a jail whose actions name a firewall is held by that one, and the
 * configured backends hold the rest. With `run.actions`, each jail's action.d actions follow.
 * With `run.exclusive`, the native ones change the firewall only under it.
 */
export function backendsFor(config: BackendConfig, jails: readonly BackendJail[], run: BackendRun): Backend[] {
  const settings: BackendSettings = {
    exec: run.exec, ...(run.follow ? { follow: run.follow } : {}), hostsDeny: { file: config.hostsDenyFile, daemons: config.hostsDenyDaemons },
  };
  const native = run.override ? createBackends(run.override, settings)
    : [...routeJails(config.backends, jails)].flatMap(([name, holds]) => createBackends([name], settings).map((backend) => forJails(backend, holds)));
  const { actions, exclusive } = run;
  // Actions run in the daemon alone, and may take seconds (a mail sent): they never hold the lock.
  const shared = exclusive ? native.map((backend) => serialised(backend, exclusive)) : native;
  if (!actions) return shared;
  return [...shared, ...jails.flatMap((jail) => (jail.actions ?? []).map((action) => createActionBackend({
    action, jail: jail.name, stateFile: actions.stateFile(jail.name, action.actname), details: actions.details,
  })))];
}
