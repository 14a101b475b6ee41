import { networksHolding, type Ban } from '../core/index.js';
import type { ReconcileStore } from './store-slice.js';

/** Which ban: its address and jail. */
interface BanKey {
  readonly address: string;
  readonly jail: string;
}

/** Where the active bans touching an address are read: the store, or a view adding bans it does not hold yet. */
type Touching = Pick<ReconcileStore, 'activeTouchingAll'>;

/** A batch of bans about to be written, and what blocked their addresses before it. */
export interface BanBatch<D extends BanKey> {
  /** The bans to write: those whose address is not banned in their jail already. */
  readonly fresh: readonly D[];
  /** The bans already in force that the batch's others were left out for. */
  readonly inForce: readonly Ban[];
  /** What blocked each address of the batch before it. */
  readonly before: ReadonlyMap<string, readonly Ban[]>;
}

/**
 * Reads what blocks the addresses of `decisions` before they are written (in one read), and
 * leaves out the bans already in force in their jail: the batch form of changeAddresses's `before`.
 */
export function beginBanBatch<D extends BanKey>(store: Touching, decisions: readonly D[], now: number): BanBatch<D> {
  const before = store.activeTouchingAll([...new Set(decisions.map((d) => d.address))], now);
  const inForce: Ban[] = [];
  const fresh = decisions.filter((decision) => {
    const own = before.get(decision.address)?.find((ban) => ban.jail === decision.jail && ban.address === decision.address);
    if (own !== undefined) inForce.push(own);
    return own === undefined;
  });
  return { fresh, inForce, before };
}

/**
 * The change the batch's fresh bans made once written (`written`: the bans the write left in force
 * for them), as applyChange takes it: what blocked their addresses before the batch, and what
 * blocks them now. The write changed only its own (jail, address) bans, so what blocks an address
 * now is what blocked it before with its own bans put in, and the written networks holding it (a
 * ban per ipv6prefix is a network): no second read of the store.
 */
export function banBatchChange(batch: BanBatch<BanKey>, written: readonly Ban[]): { before: Ban[]; after: Ban[] } {
  const addresses = [...new Set(batch.fresh.map((d) => d.address))];
  const before = addresses.flatMap((address) => batch.before.get(address) ?? []);
  const replaced = new Set(written.map((ban) => `${ban.jail} ${ban.address}`));
  const ownBans = new Map<string, Ban[]>();
  for (const ban of written) ownBans.set(ban.address, [...ownBans.get(ban.address) ?? [], ban]);
  const networks = written.filter((ban) => ban.address.includes('/'));
  const lengths = [...new Set(networks.map((ban) => Number(ban.address.slice(ban.address.indexOf('/') + 1))))].sort((a, b) => a - b);
  const holding = networksHolding(addresses, lengths);
  const covering = new Map<string, Ban[]>();
  for (const [network, inside] of holding) {
    for (const address of inside) covering.set(address, [...covering.get(address) ?? [], ...ownBans.get(network) ?? []]);
  }
  const after = addresses.flatMap((address) => [
    ...(batch.before.get(address) ?? []).filter((ban) => !replaced.has(`${ban.jail} ${ban.address}`)),
    ...covering.get(address) ?? [],
    ...ownBans.get(address) ?? [],
  ]);
  return { before, after };
}
