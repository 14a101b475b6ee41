import { checkJailName, InputError, networkOf, tryParseAddress, type Address, type BanRequest, type Duration, type LockoutCheck, type Log } from '../core/index.js';
import { capturesTold, failureAddresses, type Failure, type Lookup, type UseDns } from '../filter/index.js';
import { banTimeCalculator, type BanTimeCalculator, type BanTimeIncrement } from './ban-time.js';
import { FailureWindows, type AddressFailures } from './failure-window.js';
import { runCommand, type RunCommand } from './ignore-command.js';
import { IgnoreList, systemResolve } from './ignore-list.js';
import { decodeFailures, encodeFailures } from './persisted-failures.js';
import { TtlCache } from './ttl-cache.js';

/** Most addresses a jail tracks failures of at once, unless `maxTracked` says otherwise. */
export const DEFAULT_MAX_TRACKED = 100_000;

/** Seconds between sweeps for addresses whose failures all left the window. */
const EXPIRE_EVERY = 5;

/** A jail's options as fail2ban names them, with durations in seconds. */
export interface JailEngineOptions {
  readonly jail: string;
  readonly maxretry: number;
  readonly findtime: number;
  /** Seconds, or null for permanent. */
  readonly bantime: Duration;
  readonly increment: BanTimeIncrement;
  readonly ignoreip: readonly string[];
  readonly ignoreself: boolean;
  readonly ignorecommand?: string;
  readonly maxmatches: number;
  readonly usedns: UseDns;
  /**
   * The prefix lengths failures are counted and banned by: an IPv4 address's failures count for
   * its network of `ipv4prefix` bits, an IPv6 address's for its `ipv6prefix` network, and that
   * network is banned. 32 and 128 (one address, as fail2ban) when not given.
   */
  readonly ipv4prefix?: number;
  readonly ipv6prefix?: number;
  /** Cap on addresses tracked at once (DEFAULT_MAX_TRACKED). */
  readonly maxTracked?: number;
}

export interface EngineDeps {
  /** How many bans `address` had so far in `jail`, or in every jail when undefined (the store's history). */
  readonly previousBans: (address: string, jail: string | undefined) => number;
  /** Epoch seconds. */
  readonly now: () => number;
  /** For `bantime.rndtime`; Math.random by default. */
  readonly random?: () => number;
  /** Looks up host names (in failures with usedns yes/warn, and in ignoreip); node:dns by default. */
  readonly resolve?: Lookup;
  /** Runs ignorecommand; execFile with a timeout by default. */
  readonly runCommand?: RunCommand;
  /** Problems worth an administrator's eye (a name that does not resolve, an ignorecommand failing); console.error by default. */
  readonly log?: Log;
  /**
   * The lockout floor as it stands now (core/lockout: loopback, this host, networks too wide): the
   * failures of an address it refuses are not counted, and the refusal is said once per findtime.
   */
  readonly lockout?: LockoutCheck;
  /**
   * Whether `address` is known to hold an active ban in this jail at `now`: a failure completing
   * its count then decides nothing (the ban would be dropped as already banned), though the
   * failure is counted as any other. Nothing is known banned when not given.
   */
  readonly banned?: (address: string, now: number) => boolean;
}

/** Most parsed IPv6 addresses kept at once (see JailEngine.parse); past it they are all dropped. */
const MAX_PARSED = 10_000;

/** Most refused addresses remembered at once, so each refusal is said once per findtime. */
const MAX_REFUSALS_TOLD = 10_000;

/** What the engine counts of a failure the filter found: who, when, the lines, and the captures a ban keeps, packed (see toldCaptures). */
export type CountedFailure = Pick<Failure, 'host' | 'time' | 'lines'> & { readonly told?: string };

/** A ban the engine decided on: a BanRequest for the store, with what the engine knows besides. */
export interface BanDecision extends BanRequest {
  readonly source: 'filter';
  readonly bannedAt: number;
  readonly failures: number;
  readonly matches: readonly string[];
  readonly failureTimes: readonly number[];
}

/** One address's persisted failure counters as the store keeps them; `state` null means delete. */
export interface FailureCounterChange {
  readonly jail: string;
  readonly address: string;
  readonly state: string | null;
}

function checkCount(name: string, value: number, least: number, most = Number.MAX_SAFE_INTEGER): void {
  if (!(Number.isInteger(value) && value >= least && value <= most)) {
    throw new InputError(`${name} must be a whole number of at least ${least}${most < Number.MAX_SAFE_INTEGER ? ` and at most ${most}` : ''}, not ${value}`);
  }
}

/**
 * One jail at run time, as fail2ban's filter + failure manager + ban-time observer: failures
 * counted per address (or per prefix, see ipv4prefix) in a `findtime` window of log time, the
 * ignore rules, and the ban (with its `bantime.increment` length) when an address reaches
 * `maxretry`. Failures older than `findtime` before now are not counted, and ones from the
 * future count as now — as fail2ban.
 */
export class JailEngine {
  readonly jail: string;
  private readonly options: JailEngineOptions;
  private readonly deps: EngineDeps;
  private readonly windows: FailureWindows;
  private readonly ignore: IgnoreList;
  private readonly banTime: BanTimeCalculator;
  private readonly resolve: Lookup;
  private total = 0;
  private nextExpiry = Number.NEGATIVE_INFINITY;
  private readonly refusalsTold: TtlCache<string, true>;
  /** IPv6 addresses as the failures name them, parsed: an attacker fails many times, and parsing IPv6 is slow. */
  private readonly parsed = new Map<string, Address | undefined>();
  /** The prefix each address is counted under (see keyOf), for the same reason. */
  private readonly keys = new Map<string, Address>();
  private readonly prefix4: number;
  private readonly prefix6: number;
  private readonly log: Log;

  /** Throws InputError (naming the jail and the value) for options fail2ban would refuse. */
  constructor(options: JailEngineOptions, deps: EngineDeps) {
    this.jail = checkJailName(options.jail);
    const log: Log = deps.log ?? ((message: string) => console.error(message));
    this.log = log;
    this.resolve = deps.resolve ?? systemResolve;
    try {
      checkCount('maxretry', options.maxretry, 1);
      checkCount('maxmatches', options.maxmatches, 0);
      checkCount('maxTracked', options.maxTracked ?? DEFAULT_MAX_TRACKED, 1);
      checkCount('ipv4prefix', options.ipv4prefix ?? 32, 1, 32);
      checkCount('ipv6prefix', options.ipv6prefix ?? 128, 1, 128);
      if (!(Number.isFinite(options.findtime) && options.findtime > 0)) throw new InputError(`findtime must be a positive number of seconds, not ${options.findtime}`);
      this.banTime = banTimeCalculator(options.bantime, options.increment);
      this.ignore = new IgnoreList(options, { resolve: this.resolve, runCommand: deps.runCommand ?? runCommand, log });
    } catch (error) {
      if (error instanceof InputError) throw new InputError(`jail ${options.jail}: ${error.message}`, { cause: error });
      throw error;
    }
    this.options = options;
    this.deps = deps;
    this.prefix4 = options.ipv4prefix ?? 32;
    this.prefix6 = options.ipv6prefix ?? 128;
    this.refusalsTold = new TtlCache(options.findtime, MAX_REFUSALS_TOLD);
    this.windows = new FailureWindows({
      maxretry: options.maxretry,
      findtime: options.findtime,
      maxmatches: options.maxmatches,
      maxTracked: options.maxTracked ?? DEFAULT_MAX_TRACKED,
    });
  }

  /**
   * Counts one failure against every address its host stands for (a name may resolve to several),
   * unless ignored; returns the bans it completes. The banned address's counters start afresh.
   * Synchronous (an array) when nothing has to be looked up: an address, and no host name in
   * ignoreip and no ignorecommand — the many failures of a burst never wait for a promise.
   */
  add(failure: CountedFailure): BanDecision[] | Promise<BanDecision[]> {
    const now = this.deps.now();
    const time = Math.min(failure.time ?? now, now);
    if (time < now - this.options.findtime) return [];
    this.expire(now);
    const { host } = failure;
    if ((host.kind === 'ip4' || host.kind === 'ip6' || host.kind === 'fid') && !this.ignore.asks) {
      const address = this.parse(host.cidr === undefined ? host.value : `${host.value}/${host.cidr}`);
      const decision = address && this.count(address, this.ignore.addressReason(address, now), time, failure, now);
      return decision ? [decision] : [];
    }
    return this.addLookingUp(failure, time, now);
  }

  private async addLookingUp(failure: CountedFailure, time: number, now: number): Promise<BanDecision[]> {
    const decisions: BanDecision[] = [];
    for (const text of await failureAddresses(failure.host, this.options.usedns, this.resolve)) {
      const address = tryParseAddress(text);
      if (address === undefined) continue;
      const key = this.keyOf(address);
      const whole = key === address ? undefined : await this.ignore.listedReason(key, now);
      const decision = this.count(address, await this.ignore.reason(address, now), time, failure, now, () => whole);
      if (decision) decisions.push(decision);
    }
    return decisions;
  }

  private parse(text: string): Address | undefined {
    // Plain IPv4 (most attackers) is recognised at once (see tryParseAddress): only the rest is worth remembering.
    if (!text.includes(':')) return tryParseAddress(text);
    const known = this.parsed.get(text);
    if (known !== undefined || this.parsed.has(text)) return known;
    if (this.parsed.size >= MAX_PARSED) this.parsed.clear();
    const address = tryParseAddress(text);
    this.parsed.set(text, address);
    return address;
  }

  /** The network an address's failures are counted under and banned as (ipv4prefix, ipv6prefix): the address itself by default. */
  private keyOf(address: Address): Address {
    const prefix = address.family === 4 ? this.prefix4 : this.prefix6;
    if (prefix >= address.prefix) return address;
    const known = this.keys.get(address.text);
    if (known !== undefined) return known;
    if (this.keys.size >= MAX_PARSED) this.keys.clear();
    const key = networkOf(address, prefix);
    this.keys.set(address.text, key);
    return key;
  }

  /**
   * Counts a failure of `address` under its prefix (keyOf) unless the address is ignored
   * (`ignored`: why) or refused; the ban it completes, if any. `wholeIgnored` says why a prefix
   * must not be banned whole (it holds an ignored address); without it, the ignore list's
   * addressReason does (no closure made for each of a burst's failures).
   */
  private count(address: Address, ignored: string | undefined, time: number, failure: CountedFailure, now: number,
    wholeIgnored?: (network: Address) => string | undefined): BanDecision | undefined {
    if (ignored !== undefined || this.refused(address, now)) return undefined;
    this.total++;
    const key = this.keyOf(address);
    const keyBanned = this.deps.banned?.(key.text, now) === true;
    // A banned address keeps no lines in memory either, as in its stored row (see takeChanges): most of a burst's failures.
    const reached = this.windows.record(key.text, time, keyBanned ? [] : failure.lines);
    if (!reached) return undefined;
    const target = key === address ? address : this.banTarget(key, address, wholeIgnored ? wholeIgnored(key) : this.ignore.addressReason(key, now));
    const banned = target === key ? keyBanned : this.deps.banned?.(target.text, now) === true;
    // The ban keeps the captures of the failure that completed it: the counters never hold captures (their bytes are the daemon's cost).
    return banned ? undefined : this.decide(target.text, reached.times.length, reached, failure.told);
  }

  /**
   * `network`, or `address` alone when the network holds an ignored address (`ignored`: why) or
   * one the lockout floor protects, or is wider than the floor allows: said in the log, since the
   * ban is narrower than configured.
   */
  private banTarget(network: Address, address: Address, ignored: string | undefined): Address {
    const why = ignored ?? this.deps.lockout?.(network);
    if (why === undefined) return network;
    this.log(`banning ${address.text} alone, not ${network.text}: ${why}`, 'notice');
    return address;
  }

  /**
   * A jail with `source = bans`: `address` was banned `bans` times within findtime in the jails
   * this one watches (the store counted them). At maxretry it is banned here, unless ignored,
   * refused by the lockout floor, or banned here already; `reason` says by whom. The store keeps
   * the count, so nothing is held here: a restart or a lost log position forgets nothing.
   */
  async judge(address: string, bans: number, reason: string): Promise<BanDecision | undefined> {
    const now = this.deps.now();
    const parsed = tryParseAddress(address);
    if (parsed === undefined || bans < this.options.maxretry) return undefined;
    if (await this.ignore.reason(parsed, now) !== undefined || this.refused(parsed, now)) return undefined;
    if (this.deps.banned?.(parsed.text, now) === true) return undefined;
    return { ...this.decide(parsed.text, bans, { times: [], matches: [] }, undefined), reason };
  }

  /**
   * Escalation: `addresses` distinct addresses of `network` were banned in this jail within the
   * window (the store counted them). The network is banned for `longest` (their longest bantime;
   * null, permanent), unless it holds an ignored or own address, the lockout floor refuses it
   * (each said once per findtime), or it is banned here already; `reason` says why.
   */
  async judgeNetwork(network: string, addresses: number, longest: Duration, reason: string): Promise<BanDecision | undefined> {
    const now = this.deps.now();
    const parsed = tryParseAddress(network);
    if (parsed === undefined) return undefined;
    const ignored = await this.ignore.reason(parsed, now);
    if (ignored !== undefined) {
      this.tellOnce(parsed.text, now, `not escalating to ${parsed.text}: ${ignored}; its addresses stay banned one by one (said once per findtime)`);
      return undefined;
    }
    if (this.refused(parsed, now, 'its addresses stay banned one by one') || this.deps.banned?.(parsed.text, now) === true) return undefined;
    return { address: parsed.text, jail: this.jail, source: 'filter', bannedAt: now, expiresAt: longest === null ? null : now + longest, failures: addresses, matches: [], failureTimes: [], reason };
  }

  /**
   * Clears the counters of `address` (or of every address inside it, for a network): it was
   * unbanned by hand. A single address's failures are counted with its prefix's, which go too.
   */
  forget(address: string): void {
    const parsed = tryParseAddress(address);
    if (parsed) this.windows.forget(parsed.isNetwork ? parsed : this.keyOf(parsed));
  }

  /** fail2ban's status numbers: addresses with failures in their window now, and failures counted since start. */
  counts(): { currentlyFailed: number; totalFailed: number } {
    this.expire(this.deps.now(), true);
    return { currentlyFailed: this.windows.size, totalFailed: this.total };
  }

  /**
   * The counters changed since the last call, in the store's form: persist them in the same
   * transaction as the bans and log positions of the lines that changed them.
   *
   * Every failure time is persisted, so a restart counts each failure once; the matched lines only
   * while the address is not known banned in this jail. An attacker failing on after its ban
   * (most of a burst's failures) rewrites its row at every commit, and the lines were three
   * quarters of its bytes; its ban already keeps the lines that caused it. The trade: after a
   * restart, a later ban of such an address keeps only the lines read since the restart (its
   * failure times and count are whole).
   */
  takeChanges(): Iterable<FailureCounterChange> {
    const now = this.deps.now();
    const changed = this.windows.takeChanged();
    const change = (address: string, failures: AddressFailures | undefined): FailureCounterChange => ({
      jail: this.jail,
      address,
      state: failures === undefined ? null
        // Asked only of an address with lines: one failing on while banned (most of a burst's) keeps none already (see count).
        : encodeFailures(failures.matches.length > 0 && this.deps.banned?.(address, now) === true ? { times: failures.times, matches: [] } : failures),
    });
    // Made as iterated, as the windows' failures are (see FailureWindows.takeChanged).
    return {
      *[Symbol.iterator]() {
        for (const [address, failures] of changed) yield change(address, failures);
      },
    };
  }

  /** Every tracked address's counters in the stored form (address → state), as restore takes them. */
  snapshot(): Map<string, string> {
    this.expire(this.deps.now(), true);
    const out = new Map<string, string>();
    for (const [address, failures] of this.windows.all()) out.set(address, encodeFailures(failures));
    return out;
  }

  /**
   * Takes back counters persisted earlier (the store's rows for this jail, or a snapshot), e.g.
   * after a restart. Rows that are damaged, or whose failures have all left the window, are
   * dropped and reported as deleted by the next takeChanges, and so are rows of addresses narrower
   * than the jail's ipv4prefix or ipv6prefix (counted before it changed). Returns how many were restored.
   */
  restore(counters: Iterable<readonly [string, string]>): number {
    const oldest = this.deps.now() - this.options.findtime;
    let restored = 0;
    for (const [key, state] of counters) {
      const address = tryParseAddress(key);
      const failures = decodeFailures(state);
      const live = failures && { times: failures.times.filter((t) => t >= oldest), matches: failures.matches };
      // A key narrower than the prefix was counted before ipv4prefix or ipv6prefix was shortened: nothing counts under it now.
      const counted = address?.text === key && address.prefix <= (address.family === 4 ? this.prefix4 : this.prefix6);
      if (counted && live && live.times.length > 0) {
        this.windows.load(key, live);
        restored++;
      } else {
        this.windows.discard(key);
      }
    }
    return restored;
  }

  /** Whether the lockout floor refuses `address`; said the first time in a findtime. */
  private refused(address: Address, now: number, consequence = 'its failures are not counted'): boolean {
    const why = this.deps.lockout?.(address);
    if (why === undefined) return false;
    this.tellOnce(address.text, now, `not banning ${address.text}: ${why} (the lockout floor, [lockout] in f2b-store.conf); `
      + `${consequence} (said once per findtime)`);
    return true;
  }

  /** Logs `message` about `address` unless something was said of it within findtime. */
  private tellOnce(address: string, now: number, message: string): void {
    if (this.refusalsTold.get(address, now)) return;
    this.refusalsTold.set(address, true, now);
    this.log(message, 'notice');
  }

  /** The ban of `address` after `failures` failures; `counted`: the failures kept, `captures`: those of the last (see count). */
  private decide(address: string, failures: number, counted: AddressFailures, told: string | undefined): BanDecision {
    const { increment } = this.options;
    // Only bantime.increment needs the history (one store read per ban); the store counts the ban itself.
    const previous = increment.enabled ? this.deps.previousBans(address, increment.overalljails ? undefined : this.jail) : 0;
    const seconds = this.banTime(previous, this.deps.random ?? Math.random);
    const bannedAt = this.deps.now();
    return {
      address,
      jail: this.jail,
      source: 'filter',
      bannedAt,
      expiresAt: seconds === null ? null : bannedAt + seconds,
      failures,
      matches: counted.matches,
      failureTimes: counted.times,
      ...(told === undefined || told === '' ? {} : { captures: capturesTold(told) }),
    };
  }

  private expire(now: number, force = false): void {
    if (!force && now < this.nextExpiry) return;
    this.nextExpiry = now + EXPIRE_EVERY;
    this.windows.expire(now - this.options.findtime);
  }
}
