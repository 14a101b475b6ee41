import type { PackageHints } from './exec.js';

/** What is known of a backend besides its factory (index.ts): enough to read the configuration without loading any backend. */
interface BackendFacts {
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
const FACTS = {
  nftables: { replaces: ['nftables', 'nftables-*'], packages: { nft: 'nftables' } },
  ipset: { replaces: ['iptables-ipset*'], packages: { ipset: 'ipset', ...IPTABLES_PACKAGES } },
  iptables: { replaces: ['iptables', 'iptables-*'], packages: IPTABLES_PACKAGES },
  firewalld: { replaces: ['firewallcmd-*'], packages: { 'firewall-cmd': 'firewalld', 'dbus-send': 'dbus-bin (dbus-tools on Fedora)', busctl: 'systemd' } },
  'hosts-deny': { replaces: ['hostsdeny'], packages: {} },
  shorewall: { replaces: ['shorewall'], packages: { shorewall: 'shorewall', shorewall6: 'shorewall6', ...IPTABLES_PACKAGES } },
} satisfies Record<string, BackendFacts>;

export type BackendName = keyof typeof FACTS;

/** `none` is no backend at all: bans are only recorded. */
export const NO_BACKEND = 'none';

const KINDS: ReadonlyMap<string, BackendFacts> = new Map(Object.entries(FACTS));

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
