import { InputError } from '../core/index.js';
import type { Exec, Follow } from './exec.js';
import { createFirewalldBackend } from './firewalld.js';
import { createHostsDenyBackend, type HostsDenyOptions } from './hosts-deny.js';
import { createIpsetBackend } from './ipset.js';
import { createIptablesBackend } from './iptables.js';
import { createNftablesBackend } from './nftables.js';
import type { Backend } from './types.js';

export { describeCommand, systemExec, systemFollow, type Exec, type Follow } from './exec.js';
export { ANY_JAIL, createHostsDenyBackend, hostsDenyBlock, representHostsDeny, type HostsDenyOptions } from './hosts-deny.js';
export { NotRegularFileError, openAtomicFile, resolveTarget, rewriteFile, writeFileAtomic, type AtomicFile } from './atomic-file.js';
export { joinHostsDeny, readHostsDeny } from './hosts-deny-file.js';
export { DEFAULT_EXPORT_SET, exportSetNames, ipsetExportLines } from './ipset-export.js';
export { checkExportTable, DEFAULT_EXPORT_TABLE, nftExportLines } from './nftables-export.js';
export { actionStateFile, createActionBackend, type ActionBackendOptions, type BanDetails, type BanDetailsLookup } from './action-commands.js';
export { runShell, type ShellRunner } from './shell-command.js';
export { forJails, routeJails } from './jail-routing.js';
export { readHostAddresses } from './host-addresses.js';
export type * from './types.js';

export interface BackendSettings {
  readonly exec: Exec;
  /** For event streams (nftables' monitor); without it, a backend only counts on a timer. */
  readonly follow?: Follow;
  readonly hostsDeny: HostsDenyOptions;
}

/** The one place that knows every backend. `none` is no backend at all: bans are only recorded. */
export function createBackends(names: readonly string[], settings: BackendSettings): Backend[] {
  return names.filter((name) => name !== 'none').map((name) => {
    switch (name) {
      case 'nftables':
        return createNftablesBackend({ exec: settings.exec, ...(settings.follow ? { follow: settings.follow } : {}) });
      case 'ipset':
        return createIpsetBackend({ exec: settings.exec });
      case 'iptables':
        return createIptablesBackend({ exec: settings.exec });
      case 'firewalld':
        return createFirewalldBackend({ exec: settings.exec });
      case 'hosts-deny':
        return createHostsDenyBackend(settings.hostsDeny);
      default:
        throw new InputError(`unknown backend "${name}" (known: nftables, ipset, iptables, firewalld, hosts-deny, none)`);
    }
  });
}
