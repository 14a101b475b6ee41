import { hostAddresses, lockoutCheck, messageOf, type Address, type LockoutCheck, type LockoutFloor, type Log } from '../core/index.js';
import { banFloor, type BanFloor } from '../reconcile/index.js';

/** Seconds between readings of this host's addresses: interfaces come and go (DHCP, VPNs, containers). */
export const ADDRESS_REFRESH = 30;

export interface LockoutWatchOptions {
  readonly floor: LockoutFloor;
  /** Reads this host's addresses (with --netns, the namespace's too: see cli/context). */
  readonly read: () => Promise<Address[]>;
  readonly log: Log;
  /** Called when this host's addresses changed after start: bans of its new addresses must leave the firewall. */
  readonly changed: () => void;
  /** Seconds between readings; ADDRESS_REFRESH by default. */
  readonly every?: number;
}

const sameAddresses = (a: readonly Address[], b: readonly Address[]): boolean =>
  a.length === b.length && a.every((address, i) => address.text === b[i]?.text);

/**
 * The daemon's lockout floor as it stands now: the configured floor and this host's addresses,
 * read at start and again every ADDRESS_REFRESH seconds, the check rebuilt only when they change.
 * Until the first reading succeeds, the addresses this process sees are used.
 */
export class LockoutWatch {
  private local: readonly Address[];
  private check: LockoutCheck;
  private floor: BanFloor;
  private timer: NodeJS.Timeout | undefined;
  private failing = false;

  constructor(private readonly options: LockoutWatchOptions) {
    this.local = sorted(hostAddresses());
    this.check = lockoutCheck(this.local, options.floor);
    this.floor = banFloor(this.check);
  }

  /** Reads the addresses once, then keeps reading them on a timer. */
  async start(): Promise<void> {
    await this.refresh(false);
    this.timer = setInterval(() => void this.refresh(true), (this.options.every ?? ADDRESS_REFRESH) * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** For the jails' engines: why an address must not be banned, now. */
  lockout(): LockoutCheck {
    return this.check;
  }

  /** For the reconciler: why a stored ban must reach no backend, now. */
  banFloor(): BanFloor {
    return this.floor;
  }

  private async refresh(tell: boolean): Promise<void> {
    let found: Address[];
    try {
      found = sorted(await this.options.read());
    } catch (error) {
      if (!this.failing) this.options.log(`reading this host's addresses failed: ${messageOf(error)}; the lockout floor uses the last ones known, retrying every ${this.options.every ?? ADDRESS_REFRESH} s`, 'warning');
      this.failing = true;
      return;
    }
    this.failing = false;
    if (sameAddresses(found, this.local)) return;
    this.local = found;
    this.check = lockoutCheck(found, this.options.floor);
    this.floor = banFloor(this.check);
    if (!tell) return;
    this.options.log(`this host's addresses changed, the lockout floor follows: ${found.map((a) => a.text).join(', ')}`, 'notice');
    this.options.changed();
  }
}

function sorted(addresses: readonly Address[]): Address[] {
  const unique = new Map(addresses.map((a) => [a.text, a]));
  return [...unique.values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
}
