import { lookup } from 'node:dns/promises';
import { AddressMatcher, hostAddresses, InputError, messageOf, tryParseAddress, type Address, type Log } from '../core/index.js';
import type { Lookup } from '../filter/index.js';
import { parseIgnoreCommand, type RunCommand } from './ignore-command.js';
import { TtlCache } from './ttl-cache.js';

/** How long a host name in `ignoreip` keeps its looked-up addresses (fail2ban caches names for 5 min). */
export const NAME_TTL = 300;
/** How long an ignorecommand's answer for an address is reused, rather than run on every failure. */
export const COMMAND_TTL = 60;
/** How often this host's own addresses are read again (interfaces come and go). */
const SELF_TTL = 60;
/** Most addresses whose verdict is remembered at once (see addressReason); past it they are all dropped. */
const MAX_VERDICTS = 100_000;

export const systemResolve: Lookup = async (name) => (await lookup(name, { all: true })).map((a) => a.address);

const LOOPBACK = [tryParseAddress('127.0.0.0/8'), tryParseAddress('::1')].filter((a) => a !== undefined);

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOST_NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

function isHostName(text: string): boolean {
  // A name never ends in an all-digit label: `10.0.0.300` is a broken address, not a name.
  return text.length <= 254 && HOST_NAME.test(text) && !/(^|\.)\d+\.?$/.test(text);
}

export interface IgnoreListOptions {
  readonly jail: string;
  /** Addresses, CIDRs and host names; an item may hold several separated by spaces or commas. */
  readonly ignoreip: readonly string[];
  readonly ignoreself: boolean;
  readonly ignorecommand?: string;
}

export interface IgnoreListDeps {
  readonly resolve: Lookup;
  readonly runCommand: RunCommand;
  readonly log: Log;
}

/**
 * fail2ban's ignore rules, checked in its order: this host's own addresses (`ignoreself`), then
 * `ignoreip` (addresses and networks, then names looked up and cached), then `ignorecommand`
 * (exit 0 = ignore). A network is ignored when it shares any address with an ignored one: banning
 * it would block that address too.
 */
export class IgnoreList {
  private readonly listed: AddressMatcher;
  private readonly names: readonly string[];
  private readonly command: ((address: Address) => string[]) | undefined;
  private readonly nameCache = new TtlCache<string, Promise<AddressMatcher>>(NAME_TTL, 1_000);
  private readonly commandCache = new TtlCache<string, Promise<boolean>>(COMMAND_TTL, 10_000);
  private self: { readonly addresses: AddressMatcher; readonly until: number } | undefined;
  /**
   * What addressReason answered per IPv6 address or network ('' for nothing), until this host's
   * addresses are read again: an attacker fails many times, and matching one against networks
   * parses it each time (a single IPv4 address is matched as a number instead).
   */
  private readonly verdicts = new Map<string, string>();

  constructor(
    private readonly options: IgnoreListOptions,
    private readonly deps: IgnoreListDeps,
  ) {
    const entries: Address[] = [];
    const names: string[] = [];
    for (const item of options.ignoreip.flatMap((text) => text.split(/[\s,]+/)).filter((text) => text !== '')) {
      const address = tryParseAddress(item);
      if (address) entries.push(address);
      else if (isHostName(item)) names.push(item.toLowerCase());
      else throw new InputError(`ignoreip: "${item}" is not an address, a CIDR or a host name`);
    }
    this.listed = new AddressMatcher(entries);
    this.names = names;
    this.command = options.ignorecommand === undefined || options.ignorecommand.trim() === '' ? undefined : parseIgnoreCommand(options.ignorecommand);
  }

  /** Why `address` must not be banned, or undefined when nothing ignores it. */
  async reason(address: Address, now: number): Promise<string | undefined> {
    const listed = await this.listedReason(address, now);
    if (listed !== undefined || !this.command) return listed;
    return (await this.commandIgnores(this.command, address, now)) ? 'ignorecommand' : undefined;
  }

  /**
   * Why `address` must not be banned as far as ignoreself and ignoreip (names looked up) say,
   * without ignorecommand: what a prefix is checked against before it is banned whole, since the
   * command is written for the single addresses fail2ban hands it.
   */
  async listedReason(address: Address, now: number): Promise<string | undefined> {
    const known = this.addressReason(address, now);
    if (known !== undefined) return known;
    for (const name of this.names) {
      const found = (await this.addressesOf(name, now)).find(address);
      if (found) return `ignoreip ${name} (${found.text})`;
    }
    return undefined;
  }

  /** Whether `reason` has to look something up (a name in ignoreip, an ignorecommand); otherwise `addressReason` is the whole answer. */
  get asks(): boolean {
    return this.names.length > 0 || this.command !== undefined;
  }

  /** Why `address` must not be banned as far as this host's addresses and ignoreip's addresses and networks say. */
  addressReason(address: Address, now: number): string | undefined {
    const self = this.options.ignoreself ? this.selfAddresses(now) : undefined;
    // A single IPv4 address is matched as a number at once, cheaper than looking its verdict up among tens of thousands.
    const remembered = address.family === 6 || address.isNetwork;
    const known = remembered ? this.verdicts.get(address.text) : undefined;
    if (known !== undefined) return known === '' ? undefined : known;
    const own = self?.find(address);
    const listed = own === undefined ? this.listed.find(address) : undefined;
    const reason = own ? `ignoreself (${own.text})` : listed && `ignoreip ${listed.text}`;
    if (!remembered) return reason;
    if (this.verdicts.size >= MAX_VERDICTS) this.verdicts.clear();
    this.verdicts.set(address.text, reason ?? '');
    return reason;
  }

  private selfAddresses(now: number): AddressMatcher {
    if (!this.self || this.self.until <= now) {
      this.self = { addresses: new AddressMatcher([...LOOPBACK, ...hostAddresses()]), until: now + SELF_TTL };
      this.verdicts.clear();
    }
    return this.self.addresses;
  }

  private addressesOf(name: string, now: number): Promise<AddressMatcher> {
    return this.nameCache.get(name, now) ?? this.nameCache.set(name, this.lookUp(name), now);
  }

  private async lookUp(name: string): Promise<AddressMatcher> {
    try {
      const addresses = (await this.deps.resolve(name)).map((text) => tryParseAddress(text)).filter((a) => a !== undefined);
      if (addresses.length === 0) this.deps.log(`${this.options.jail}: ignoreip ${name} has no addresses`, 'warning');
      return new AddressMatcher(addresses);
    } catch (error) {
      this.deps.log(`${this.options.jail}: ignoreip ${name} could not be looked up: ${messageOf(error)}`, 'warning');
      return new AddressMatcher([]);
    }
  }

  private commandIgnores(command: (address: Address) => string[], address: Address, now: number): Promise<boolean> {
    return this.commandCache.get(address.text, now) ?? this.commandCache.set(address.text, this.runIgnoreCommand(command(address), address), now);
  }

  private async runIgnoreCommand(argv: readonly string[], address: Address): Promise<boolean> {
    try {
      const status = await this.deps.runCommand(argv);
      // fail2ban: 0 ignores, 1 does not, anything else is the command failing (and does not ignore).
      if (status !== 0 && status !== 1) this.deps.log(`${this.options.jail}: ignorecommand for ${address.text} exited with ${status}; not ignored`, 'warning');
      return status === 0;
    } catch (error) {
      this.deps.log(`${this.options.jail}: ignorecommand for ${address.text} failed: ${messageOf(error)}; not ignored`, 'error');
      return false;
    }
  }
}
