import { systemExec } from '../../src/backends/exec.js';
import { createFirewalldBackend } from '../../src/backends/firewalld.js';
import { replyString, replyStrings } from '../../src/backends/firewalld-dbus.js';
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
    const cmd = (...args: string[]): string => fw.firewallCmd(args).trim();
    const { exec, watch } = watchedExec(systemExec(fw.netns.name), reads);
    const backend = createFirewalldBackend({ exec });
    let planted = false;
    const system: ContractSystem = {
      backend,
      shown: async () => shownIn(fw),
      objects: async () => [
        ...cmd('--permanent', '--get-ipsets').split(/\s+/).filter((n) => n.startsWith('f2bs')).map((n) => `permanent ipset ${n}`),
        ...cmd('--permanent', '--get-policies').split(/\s+/).filter((n) => n === 'f2b-store').map((n) => `permanent policy ${n}`),
        ...fw.netns.run(['nft', 'list', 'table', 'inet', 'firewalld']).split('\n').filter((l) => l.includes('f2bs')).map((l) => l.trim()),
      ],
      watch,
      wipes: [
        {
          name: 'firewall-cmd --permanent --remove-entry of one entry, then --reload',
          run: () => {
            cmd('--permanent', '--ipset=f2bs4-sshd', '--remove-entry=203.0.113.7');
            cmd('--reload');
          },
        },
        {
          name: 'firewall-cmd --permanent --delete-policy=f2b-store, --delete-ipset of each of ours, then --reload',
          run: () => {
            cmd('--permanent', '--delete-policy=f2b-store');
            for (const ipset of cmd('--permanent', '--get-ipsets').split(/\s+/).filter((n) => n.startsWith('f2bs'))) cmd('--permanent', `--delete-ipset=${ipset}`);
            cmd('--reload');
          },
        },
      ],
      async plantForeign() {
        planted = true;
        cmd('--permanent', `--new-ipset=${CONTRACT_FOREIGN_IPSET}`, '--type=hash:net');
        cmd('--permanent', `--ipset=${CONTRACT_FOREIGN_IPSET}`, '--add-entry=198.51.100.0/25');
        cmd('--permanent', '--zone=public', `--add-rich-rule=${CONTRACT_FOREIGN_RULE}`);
        cmd('--reload');
        // Read back through D-Bus, as firewall-cmd --get-entries and --list-rich-rules do, without a Python start each.
        const config = (method: string, name: string): string => replyString(fw.dbus(CONFIG, method, `string:${name}`));
        return async () => [
          fw.dbus(RUNTIME, 'ipset.getEntries', `string:${CONTRACT_FOREIGN_IPSET}`), fw.dbus(RUNTIME, 'zone.getRichRules', 'string:public'),
          fw.dbus(config('config.getIPSetByName', CONTRACT_FOREIGN_IPSET), 'config.ipset.getEntries'),
          fw.dbus(config('config.getZoneByName', 'public'), 'config.zone.getRichRules'),
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
          cmd('--permanent', '--zone=public', `--remove-rich-rule=${CONTRACT_FOREIGN_RULE}`);
          cmd('--permanent', `--delete-ipset=${CONTRACT_FOREIGN_IPSET}`);
          cmd('--reload');
        }
        return system;
      },
      async close() {},
    };
  },
});
