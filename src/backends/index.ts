import { InputError, type ActionDefinition, type Exclusive } from '../core/index.js';
import { createActionBackend, type BanDetailsLookup } from './action-commands.js';
import type { Exec, ExecStream, Follow } from './exec.js';
import { createFirewalldBackend } from './firewalld.js';
import { createHostsDenyBackend, type HostsDenyOptions } from './hosts-deny.js';
import { createIpsetBackend } from './ipset.js';
import { createIptablesBackend } from './iptables.js';
import { createNftablesBackend } from './nftables.js';
import { serialised } from './serialised.js';
import { createShorewallBackend } from './shorewall.js';
import type { Backend } from './types.js';
import { BACKEND_CATALOG, NO_BACKEND, type BackendName } from './catalog.js';

export {
  describeCommand, ExecError, systemExec, systemFollow, systemStream, type Exec, type ExecFailure, type ExecStream, type Follow, type PackageHints, type StreamedCommand,
} from './exec.js';
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
export { BACKEND_CATALOG, NO_BACKEND, PACKAGE_HINTS, type BackendName } from './catalog.js';

export interface BackendSettings {
  readonly exec: Exec;
  /** For event streams (nftables' monitor); without it, a backend only counts on a timer. */
  readonly follow?: Follow;
  /** For a restore streamed into an empty firewall (nftables, ipset); without it, ensure then apply. */
  readonly stream?: ExecStream;
  readonly hostsDeny: HostsDenyOptions;
}

/**
 * Every backend's factory, one per name of the catalog (catalog.ts holds the rest of what is
 * known of each, so that reading the configuration loads no backend).
 */
const FACTORIES: Readonly<Record<BackendName, (settings: BackendSettings) => Backend>> = {
  nftables: (s) => createNftablesBackend({ exec: s.exec, ...(s.follow ? { follow: s.follow } : {}), ...(s.stream ? { stream: s.stream } : {}) }),
  ipset: (s) => createIpsetBackend({ exec: s.exec, ...(s.stream ? { stream: s.stream } : {}) }),
  iptables: (s) => createIptablesBackend({ exec: s.exec }),
  firewalld: (s) => createFirewalldBackend({ exec: s.exec }),
  'hosts-deny': (s) => createHostsDenyBackend(s.hostsDeny),
  shorewall: (s) => createShorewallBackend({ exec: s.exec }),
};

const isBackendName = (name: string): name is BackendName => Object.hasOwn(FACTORIES, name);

/** Makes the named backends; `none` makes none. */
export function createBackends(names: readonly string[], settings: BackendSettings): Backend[] {
  return names.filter((name) => name !== NO_BACKEND).map((name) => {
    if (!isBackendName(name)) throw new InputError(`unknown backend "${name}" (known: ${BACKEND_CATALOG.names.join(', ')})`);
    return FACTORIES[name](settings);
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
  readonly stream?: ExecStream;
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
    exec: run.exec, ...(run.follow ? { follow: run.follow } : {}), ...(run.stream ? { stream: run.stream } : {}), hostsDeny: { file: config.hostsDenyFile, daemons: config.hostsDenyDaemons },
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
