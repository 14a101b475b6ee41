import { tryParseAddress, type Ban } from '../core/index.js';
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
 * now is what blocked it before with its own bans put in: no second read of the store, unless a
 * written ban is a network (it may block other addresses of the batch).
 */
export function banBatchChange(store: Touching, batch: BanBatch<BanKey>, written: readonly Ban[], now: number): { before: Ban[]; after: Ban[] } {
  const addresses = [...new Set(batch.fresh.map((d) => d.address))];
  const before = addresses.flatMap((address) => batch.before.get(address) ?? []);
  if (written.some((ban) => tryParseAddress(ban.address)?.isNetwork !== false)) {
    const after = store.activeTouchingAll(addresses, now);
    return { before, after: addresses.flatMap((address) => after.get(address) ?? []) };
  }
  const replaced = new Set(written.map((ban) => `${ban.jail} ${ban.address}`));
  return { before, after: [...before.filter((ban) => !replaced.has(`${ban.jail} ${ban.address}`)), ...written] };
}
