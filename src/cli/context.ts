import type { Command } from 'commander';
import {
  checkJailName, hostAddresses, InputError, lockoutCheck, messageOf, nowSeconds, parseAddress, parseDuration,
  type Address, type Duration, type Exclusive, type LockoutCheck,
} from '../core/index.js';
import type { JailDefinition, JailSettings } from '../config/index.js';
// The rest of config (jails, filters, actions), the backends and the reconciler are loaded when a
// command first needs them: `unban --backend none` and `stats` never do.
import { DEFAULT_CONFIG_DIR, loadStoreConfig, parseBackendList, type StoreConfig } from '../config/store-config.js';
import type { Backend, BackendJail, BackendRun } from '../backends/index.js';
import { BACKEND_CATALOG, NO_BACKEND, PACKAGE_HINTS } from '../backends/catalog.js';
import type { EnforceOptions } from '../reconcile/index.js';
// Imported, not loaded on first use: a dynamic import of the store split it into more chunks, one
// more module for every command to load (SQLite's native binding is loaded when a database opens).
import { BanStore, firewallLock } from '../store/index.js';

/** The global options every command accepts (see DESIGN.md, Contracts). */
export interface GlobalOptions {
  readonly db?: string;
  readonly config?: string;
  readonly backend?: string;
  readonly netns?: string;
  readonly json?: boolean;
  readonly insecureDb?: boolean;
}

/** What a command runs with: the global options resolved, the config and store opened on first use. */
export interface Context {
  readonly json: boolean;
  readonly now: number;
  readonly configDir: string;
  readonly netns: string | undefined;
  /** --insecure-db: use a database that another user owns or may write. */
  readonly insecureDb: boolean;
  /** Backends named by `--backend` for this call, or undefined to use the configured ones. */
  readonly backendOverride: readonly string[] | undefined;
  config(): StoreConfig;
  dbPath(): string;
  /**
   * The store, opened on first use. Only commands that record bans (`create`) make a new
   * database; for the others a missing one is an error, so a typo in --db never reads as "no bans".
   */
  store(options?: { create?: boolean }): Promise<BanStore>;
  /**
   * Every jail of the configuration, enabled or not, each log jail with its filter read (status,
   * stats); read once, and enforcement() then takes its jails from the same read.
   */
  jails(): Promise<JailDefinition[]>;
  /** The enabled backends: `--backend`, else `[reconcile] backends`; `none` means no backend. */
  backends(): Promise<Backend[]>;
  /**
   * What makes the backends for some jails (see backendsFor), with the daemon's action.d actions
   * when `actions` is given. Loaded on first use: a command that touches no firewall never loads one.
   */
  backendsFor(): Promise<BackendChooser>;
  /**
   * The enabled backends and how bans reach them, as the daemon has it from the same
   * configuration: the enabled jails (whose objects must exist), their rules (ports, protocol,
   * blocktype) and the lockout floor. With no backend, nothing more is read.
   */
  enforcement(): Promise<Enforcement>;
  /**
   * This host's addresses: with --netns, the namespace's (read inside it) as well as those of the
   * host f2b-store runs on, whose traffic to the namespace a ban would cut too.
   */
  hostAddresses(): Promise<Address[]>;
  /** The lockout check: the configured floor ([lockout]) and this host's addresses. */
  lockout(): Promise<LockoutCheck>;
  close(): void;
}

export type BackendChooser = (jails: readonly BackendJail[], actions?: BackendRun['actions']) => Backend[];

export interface Enforcement {
  readonly backends: Backend[];
  readonly options: EnforceOptions & { readonly jails?: readonly string[] };
}

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function createContext(command: Command): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const configDir = options.config ?? DEFAULT_CONFIG_DIR;
  if (options.netns !== undefined && !NETNS_NAME.test(options.netns)) {
    throw new InputError(`bad network namespace name "${options.netns}": use letters, digits, '-', '_' or '.'`);
  }
  let backendOverride: string[] | undefined;
  if (options.backend !== undefined) {
    backendOverride = parseBackendList(options.backend, '--backend', BACKEND_CATALOG);
  }
  let config: StoreConfig | undefined;
  let store: BanStore | undefined;
  let enabledJails: JailSettings[] | undefined;
  let definitions: JailDefinition[] | undefined;
  let check: Promise<LockoutCheck> | undefined;
  let lock: Exclusive | undefined;
  const loadConfig = (): StoreConfig => (config ??= loadStoreConfig(configDir, BACKEND_CATALOG));
  let hosts: Promise<Address[]> | undefined;
  /** hostAddresses(), started once; a failure is told by whoever awaits it (lockout). */
  const readHosts = (): Promise<Address[]> => {
    if (!hosts) {
      hosts = context.hostAddresses();
      hosts.catch(() => undefined);
    }
    return hosts;
  };
  // What enforcing bans needs of the jails (backends, ports, rules): their filters are not read for it, unless jails() read them already.
  const loadJails = async (): Promise<JailSettings[]> => (enabledJails ??= definitions?.filter((jail) => jail.enabled)
    ?? (await import('../config/index.js')).enabledJailSettings(configDir, BACKEND_CATALOG));
  const context: Context = {
    json: options.json === true,
    now: nowSeconds(),
    configDir,
    netns: options.netns,
    insecureDb: options.insecureDb === true,
    backendOverride,
    config: loadConfig,
    // --db (or F2B_STORE_DB) wins without reading the config: start-up stays lean for scripts.
    dbPath: () => {
      if (options.db === undefined) return loadConfig().dbfile;
      if (options.db === '') {
        throw new InputError(command.getOptionValueSourceWithGlobals('db') === 'env'
          ? 'F2B_STORE_DB is empty: name the database file, or unset it for the default'
          : 'empty --db: name the database file, or leave --db out for the default');
      }
      return options.db;
    },
    async store(open = {}) {
      if (!store) {
        store = BanStore.open(this.dbPath(), { create: open.create === true, insecure: this.insecureDb });
        // Closed before the process ends, however it ends (main.ts exits at once): the last connection folds the WAL in.
        process.once('exit', () => this.close());
      }
      return store;
    },
    async backendsFor() {
      const [{ backendsFor }, { systemExec, systemFollow, systemStream }] = await Promise.all([import('../backends/index.js'), import('../backends/exec.js')]);
      // The lock lives beside the database: opened at the first change of a firewall, not before.
      const exclusive: Exclusive = (work) => (lock ??= firewallLock(this.dbPath()))(work);
      return (jails, actions) => backendsFor(loadConfig(), jails, {
        exec: systemExec(options.netns, PACKAGE_HINTS), follow: systemFollow(options.netns, PACKAGE_HINTS),
        stream: systemStream(options.netns, PACKAGE_HINTS), exclusive,
        ...(backendOverride ? { override: backendOverride } : {}), ...(actions ? { actions } : {}),
      });
    },
    async jails() {
      if (!definitions) {
        const [{ jailConfigDir, loadJails: readJails }, { journalInsteadOfFiles }] = await Promise.all([
          import('../config/index.js'), import('../watch/journal-instead.js'),
        ]);
        definitions = readJails(jailConfigDir(configDir), BACKEND_CATALOG, { journalInstead: journalInsteadOfFiles });
      }
      return definitions;
    },
    async backends() {
      // --backend holds every ban: the jails are not read for it; `none` alone loads no backend.
      if (backendOverride?.every((name) => name === NO_BACKEND)) return [];
      return (await this.backendsFor())(backendOverride ? [] : (await loadJails()).map((jail) => ({ name: jail.name, backends: jail.backends })));
    },
    async enforcement() {
      // The floor's read of the namespace's addresses (a command) runs while the backends and jails load.
      if (!backendOverride?.every((name) => name === NO_BACKEND)) void readHosts();
      const backends = await this.backends();
      if (backends.length === 0) return { backends, options: {} };
      const [configured, { banFloor, jailRulesOf }] = await Promise.all([loadJails(), import('./reconcile-pass.js')]);
      return { backends, options: { rules: jailRulesOf(configured), jails: configured.map((jail) => jail.name), floor: banFloor(await this.lockout()) } };
    },
    async hostAddresses() {
      const own = hostAddresses();
      if (options.netns === undefined) return own;
      const [{ systemExec }, { readHostAddresses }] = await Promise.all([import('../backends/exec.js'), import('../backends/host-addresses.js')]);
      return [...own, ...await readHostAddresses(systemExec(options.netns))];
    },
    lockout() {
      // A namespace whose addresses cannot be read cannot be changed either (its firewall commands
      // fail too, and say so); the reconciler checks again whenever it can be.
      check ??= readHosts().catch((error: unknown) => {
        console.error(`f2b-store: warning: ${messageOf(error)}: the lockout floor knows only this host's own addresses`);
        return hostAddresses();
      }).then((addresses) => lockoutCheck(addresses, loadConfig().lockout));
      return check;
    },
    close() {
      store?.close();
      store = undefined;
    },
  };
  return context;
}

export function jailOption(jail: string | undefined, fallback: string): string {
  return checkJailName(jail ?? fallback);
}

/** `--for DUR` / `--permanent` into an expiry; `fallback` when neither is given. */
export function expiryOption(options: { for?: string; permanent?: boolean }, fallback: Duration, now: number): number | null {
  const duration = options.permanent ? null : options.for !== undefined ? parseDuration(options.for) : fallback;
  return duration === null ? null : now + duration;
}

/**
 * An address to ban: canonical, and not one that would lock the administrator out unless forced.
 * `forced` says that only --force let it through: the ban is marked so (see Ban.forced).
 */
export async function banTarget(text: string, force: boolean, lockout: () => Promise<LockoutCheck>): Promise<{ address: Address; forced: boolean }> {
  const address = parseAddress(text);
  const reason = (await lockout())(address);
  if (reason && !force) throw new InputError(`refusing to ban ${text}: ${reason} (pass --force if you really mean it)`);
  return { address, forced: reason !== undefined };
}
