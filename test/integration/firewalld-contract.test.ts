import { systemExec } from '../../src/backends/exec.js';
import { createFirewalldBackend } from '../../src/backends/firewalld.js';
import { newIpsetCall, replyString, replyStrings } from '../../src/backends/firewalld-dbus.js';
import type { Command, Entry } from '../../src/backends/types.js';
import { parseAddress } from '../../src/core/index.js';
import type { PrivateFirewalld } from '../helpers/firewalld.js';
import { sharedFirewalld } from '../helpers/shared-firewalld.js';
import { backendContract, nftShown, watchedExec, type ContractSystem } from './backend-contract.js';

// A file of its own beside firewalld.test.ts, with its own private firewalld: the two run side by side.
const entry = (jail: string, text: string): Entry => {
  const address = parseAddress(text);
  return { jail, address: address.text, family: address.family, expiresAt: null };
};

/** Commands that only read: D-Bus getters, and firewall-cmd's --get-, --list-, --info-, --query- options and --state. */
function reads(command: Command): boolean {
  const [tool, ...args] = command.argv;
  if (command.stdin !== undefined) return false;
  if (tool === 'dbus-send') return args.some((a) => /^org\.fedoraproject\.FirewallD1\.(?:\w+\.)*get\w+$/.test(a));
  return tool === 'firewall-cmd' && args.some((a) => /^--(?:get|list|info|query)-|^--state$/.test(a));
}

/** What our ipsets hold in firewalld's own nftables table (what the kernel enforces), as `keys()` gives them. */
const shownIn = (fw: PrivateFirewalld): string[] => nftShown(fw.netns.run(['nft', '-j', 'list', 'table', 'inet', 'firewalld']), /^f2bs[46]-(.+)$/);

const RUNTIME = '/org/fedoraproject/FirewallD1';
const CONFIG = '/org/fedoraproject/FirewallD1/config';

/**
 * Empties our ipsets, runtime and permanent, through D-Bus: a few milliseconds a call, where the
 * backend's own removal runs a firewall-cmd per ipset for the permanent configuration.
 */
function emptyOurIpsets(fw: PrivateFirewalld): void {
  const ours = (names: string): string[] => replyStrings(names).filter((n) => /^f2bs[46]-/.test(n));
  for (const name of ours(fw.dbus(RUNTIME, 'ipset.getIPSets'))) fw.dbus(RUNTIME, 'ipset.setEntries', `string:${name}`, 'array:string:');
  for (const name of ours(fw.dbus(CONFIG, 'config.getIPSetNames'))) {
    fw.dbus(replyString(fw.dbus(CONFIG, 'config.getIPSetByName', `string:${name}`)), 'config.ipset.setEntries', 'array:string:');
  }
}

const CONTRACT_FOREIGN_IPSET = 'admin-deny';
const CONTRACT_FOREIGN_RULE = 'rule family="ipv6" source address="2001:db8:9::/48" drop';

backendContract({
  name: 'firewalld',
  refusal: { held: [entry('sshd', '198.51.100.0/24')], refused: entry('sshd', '198.51.100.9'), error: /INVALID_ENTRY: .*overlaps/, extra: 1 },
  async open() {
    const fw = await sharedFirewalld();
    // The administrator's changes and our reads go through firewalld's D-Bus API, as firewall-cmd
    // does, without a Python start (half a second of CPU) per call.
    const permanent = (kind: 'IPSet' | 'Zone' | 'Policy', name: string): string => replyString(fw.dbus(CONFIG, `config.get${kind}ByName`, `string:${name}`));
    const names = (method: 'getIPSetNames' | 'getPolicyNames'): string[] => replyStrings(fw.dbus(CONFIG, `config.${method}`));
    const reload = (): void => void fw.dbus(RUNTIME, 'reload');
    const { exec, watch } = watchedExec(systemExec(fw.netns.name), reads);
    const backend = createFirewalldBackend({ exec });
    let planted = false;
    const system: ContractSystem = {
      backend,
      shown: async () => shownIn(fw),
      objects: async () => [
        ...names('getIPSetNames').filter((n) => n.startsWith('f2bs')).map((n) => `permanent ipset ${n}`),
        ...names('getPolicyNames').filter((n) => n === 'f2b-store').map((n) => `permanent policy ${n}`),
        ...fw.netns.run(['nft', 'list', 'table', 'inet', 'firewalld']).split('\n').filter((l) => l.includes('f2bs')).map((l) => l.trim()),
      ],
      watch,
      wipes: [
        {
          name: 'one entry removed from the permanent configuration, then a reload',
          run: () => {
            fw.dbus(permanent('IPSet', 'f2bs4-sshd'), 'config.ipset.removeEntry', 'string:203.0.113.7');
            reload();
          },
        },
        {
          name: 'the policy f2b-store and each of our ipsets deleted from the permanent configuration, then a reload',
          run: () => {
            fw.dbus(permanent('Policy', 'f2b-store'), 'config.policy.remove');
            for (const ipset of names('getIPSetNames').filter((n) => n.startsWith('f2bs'))) fw.dbus(permanent('IPSet', ipset), 'config.ipset.remove');
            reload();
          },
        },
      ],
      async plantForeign() {
        planted = true;
        fw.call(newIpsetCall(CONTRACT_FOREIGN_IPSET, 'hash:net', {}));
        fw.dbus(permanent('IPSet', CONTRACT_FOREIGN_IPSET), 'config.ipset.addEntry', 'string:198.51.100.0/25');
        fw.dbus(permanent('Zone', 'public'), 'config.zone.addRichRule', `string:${CONTRACT_FOREIGN_RULE}`);
        reload();
        return async () => [
          fw.dbus(RUNTIME, 'ipset.getEntries', `string:${CONTRACT_FOREIGN_IPSET}`), fw.dbus(RUNTIME, 'zone.getRichRules', 'string:public'),
          fw.dbus(permanent('IPSet', CONTRACT_FOREIGN_IPSET), 'config.ipset.getEntries'),
          fw.dbus(permanent('Zone', 'public'), 'config.zone.getRichRules'),
        ].map((reply) => replyStrings(reply).join('\n')).join('\n');
      },
    };
    return {
      // The entries go, the ipsets and the policy stay, as a reboot finds them: making them costs a
      // firewall-cmd each and a reload, and the scenarios of flush and of an outside wipe make them again.
      async fresh() {
        emptyOurIpsets(fw);
        if (planted) {
          planted = false;
          fw.dbus(permanent('Zone', 'public'), 'config.zone.removeRichRule', `string:${CONTRACT_FOREIGN_RULE}`);
          fw.dbus(permanent('IPSet', CONTRACT_FOREIGN_IPSET), 'config.ipset.remove');
          reload();
        }
        return system;
      },
      async close() {},
    };
  },
});
