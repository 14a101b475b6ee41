import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './cli.js';
import { createNetns, type Netns } from './netns.js';

/** A started Shorewall and Shorewall6 of a namespace's own. */
export interface PrivateShorewall {
  readonly netns: Netns;
  close(): void;
}

/**
 * Starts the real shorewall and shorewall6 inside a new namespace, with a minimal configuration
 * (one zone, everything accepted, DYNAMIC_BLACKLIST=Yes) and state of their own: `ip netns exec`
 * mounts /etc/netns/NAME/shorewall over /etc/shorewall for every command run in that namespace,
 * and the `vardir` file there moves /var/lib/shorewall into a temp dir. The compiled rules are
 * iptables rules, which belong to the namespace.
 */
export function startPrivateShorewall(): PrivateShorewall {
  const netns = createNetns();
  const tmp = tempDir('f2bt-shorewall-');
  const etc = join('/etc/netns', netns.name);
  const close = (): void => {
    netns.remove();
    rmSync(etc, { recursive: true, force: true });
    tmp.cleanup();
  };
  try {
    for (const product of ['shorewall', 'shorewall6'] as const) {
      const dir = join(etc, product);
      const vardir = join(tmp.dir, product);
      mkdirSync(dir, { recursive: true });
      mkdirSync(vardir);
      writeFileSync(join(tmp.dir, `${product}.log`), '');
      writeFileSync(join(dir, `${product}.conf`), [
        'STARTUP_ENABLED=Yes', 'VERBOSITY=1', `LOGFILE=${join(tmp.dir, `${product}.log`)}`, `STARTUP_LOG=${join(tmp.dir, `${product}-init.log`)}`,
        'LOG_LEVEL=', 'DYNAMIC_BLACKLIST=Yes', 'IP_FORWARDING=Keep', 'AUTOMAKE=No',
        `CONFIG_PATH=":\${CONFDIR}/${product}:\${SHAREDIR}/${product}:\${SHAREDIR}/shorewall"`, '',
      ].join('\n'));
      writeFileSync(join(dir, 'vardir'), `VARDIR=${vardir}\n`);
      writeFileSync(join(dir, 'zones'), `fw firewall\nnet ${product === 'shorewall' ? 'ipv4' : 'ipv6'}\n`);
      // No interface of the zone needs to exist: the rules for it are made all the same.
      writeFileSync(join(dir, 'interfaces'), 'net f2bt0 -\n');
      writeFileSync(join(dir, 'policy'), 'all all ACCEPT\n');
      writeFileSync(join(dir, 'rules'), '');
      netns.run([product, 'start']);
    }
  } catch (error) {
    close();
    throw error;
  }
  return { netns, close };
}
