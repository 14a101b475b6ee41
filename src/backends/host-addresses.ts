import { messageOf, OperationError, tryParseAddress, type Address } from '../core/index.js';
import type { Exec } from './exec.js';

interface IpAddrInfo {
  readonly local?: unknown;
}

interface IpLink {
  readonly addr_info?: readonly IpAddrInfo[];
}

/**
 * The addresses configured on the interfaces of the network namespace `exec` runs in
 * (`ip -j addr show`): with `--netns`, the namespace's own, which node's networkInterfaces()
 * cannot see from outside it.
 */
export async function readHostAddresses(exec: Exec): Promise<Address[]> {
  const command = { argv: ['ip', '-j', 'addr', 'show'] };
  let links: unknown;
  try {
    links = JSON.parse(await exec(command));
  } catch (error) {
    throw new OperationError(`reading this host's addresses: ${messageOf(error)}`, { cause: error });
  }
  if (!Array.isArray(links)) throw new OperationError('reading this host\'s addresses: `ip -j addr show` did not print a list');
  return (links as IpLink[]).flatMap((link) => (link.addr_info ?? []).flatMap((info) => {
    const address = typeof info.local === 'string' ? tryParseAddress(info.local) : undefined;
    return address && !address.isNetwork ? [address] : [];
  }));
}
