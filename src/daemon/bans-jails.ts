import { formatDuration, messageOf, type Family, type LockoutCheck, type Log } from '../core/index.js';
import { bansJailSelection, isLogJail, type AnyEnabledJail, type BansJail, type Escalation } from '../config/index.js';
import { JailEngine, type BanDecision } from '../engine/index.js';
import { isDamaged, type BanStore, type JailSelection } from '../store/index.js';
import type { JailStatus } from './log-jails.js';
import type { StoreWriter } from './store-writer.js';

export interface BansJailsOptions {
  readonly store: BanStore;
  /** Bans held in memory until the database takes them are active too. */
  readonly writer: StoreWriter;
  readonly now: () => number;
  readonly log: Log;
  readonly lockout: () => LockoutCheck;
  /** Records the bans decided and applies them to the backends, as the log jails' own. */
  readonly ban: (decisions: readonly BanDecision[]) => Promise<void>;
}

interface Running {
  readonly definition: BansJail;
  readonly engine: JailEngine;
  readonly selection: JailSelection;
}

/** A jail with `escalate` or `escalate6`: its own bans are counted per network. */
interface Escalating {
  readonly jail: string;
  readonly engine: JailEngine;
  readonly escalations: readonly (Escalation & { readonly family: Family })[];
}

/**
 * The jails with `source = bans`, and the jails that escalate to networks (`escalate`, `escalate6`): each time bans are recorded (the daemon's own, or another
 * process's taken in through the change log), the addresses banned anew in the jails each one
 * watches are counted in the store within its findtime, and banned in it at maxretry. Only bans
 * recorded after the daemon started are news: the ones before count, but do not decide again
 * (a repeat offender unbanned by hand is not banned again by a restart). Escalation counts the
 * distinct addresses banned in the jail itself per network, and bans the network in that jail.
 */
export class BansJails {
  private jails: Running[] = [];
  private escalating: Escalating[] = [];
  /** The newest ban row looked at; undefined while a damaged store could not tell (then counting starts at the first check). */
  private after: number | undefined;
  /** The newest ban row when the daemon started: the bans after it are what `status` counts as failures. */
  private startedAfter = 0;
  private work: Promise<void> = Promise.resolve();
  /** A check queued and not started yet: it reads every ban recorded until it starts. */
  private pending: Promise<void> | undefined;

  constructor(private readonly options: BansJailsOptions, definitions: readonly AnyEnabledJail[]) {
    try {
      this.after = options.store.latestBanId();
      this.startedAfter = this.after;
    } catch (error) {
      // A damaged store must not stop the daemon from starting: it keeps the firewall as it is.
      if (!isDamaged(error)) throw error;
    }
    this.prepare(definitions)();
  }

  /**
   * Checks a new set of jails (a reload): throws InputError for bad options, else returns what puts
   * the ones counting bans in place. Bans recorded meanwhile are still news to them.
   */
  prepare(all: readonly AnyEnabledJail[]): () => void {
    const definitions = all.filter((jail): jail is BansJail => !isLogJail(jail));
    const jails = definitions.map((definition) => ({ definition, selection: bansJailSelection(definition, definitions), engine: this.engineOf(definition) }));
    const escalating = all.flatMap((definition) => {
      const escalations = [
        ...(definition.escalate ? [{ ...definition.escalate, family: 4 as const }] : []),
        ...(definition.escalate6 ? [{ ...definition.escalate6, family: 6 as const }] : []),
      ];
      return escalations.length === 0 ? [] : [{ jail: definition.name, engine: this.engineOf(definition), escalations }];
    });
    return () => {
      this.jails = jails;
      this.escalating = escalating;
    };
  }

  /**
   * The live numbers of the jails counting bans, as `status` shows a log jail's: "currently failed"
   * is the addresses with a ban counted in findtime not banned in the jail yet, "total failed" the
   * bans counted since the daemon started.
   */
  status(): JailStatus[] {
    const now = this.options.now();
    return this.jails.map(({ definition, selection }) => {
      const numbers = { name: definition.name, files: [], journal: null, droppedLines: 0, notRecords: null };
      try {
        return {
          ...numbers,
          currentlyFailed: this.options.store.offenders(definition.name, selection, now - definition.findtime, now),
          totalFailed: this.options.store.bansAfter(this.startedAfter, selection),
        };
      } catch (error) {
        // A damaged store must not take status down with it: status itself reports the damage.
        if (!isDamaged(error)) throw error;
        return { ...numbers, currentlyFailed: 0, totalFailed: 0 };
      }
    });
  }

  private engineOf(definition: AnyEnabledJail): JailEngine {
    return new JailEngine({
      jail: definition.name, maxretry: definition.maxretry, findtime: definition.findtime, bantime: definition.bantime,
      increment: definition.increment, ignoreip: definition.ignoreip, ignoreself: definition.ignoreself,
      maxmatches: 0, usedns: definition.usedns,
      ...(definition.ignorecommand === undefined ? {} : { ignorecommand: definition.ignorecommand }),
    }, {
      previousBans: (address, jail) => this.options.store.previousBans(address, jail),
      now: this.options.now,
      log: (message, level) => this.options.log(`[${definition.name}] ${message}`, level),
      lockout: (address) => this.options.lockout()(address),
      banned: (address, now) => this.bannedIn(definition.name, address, now),
    });
  }

  /** Bans were recorded: counts what is new, once the check under way (if any) is done. */
  check(): Promise<void> {
    if (this.pending) return this.pending;
    const run = this.work.then(() => {
      this.pending = undefined;
      return this.run();
    });
    this.pending = run;
    this.work = run.catch(() => undefined);
    return run;
  }

  private async run(): Promise<void> {
    if (this.jails.length === 0 && this.escalating.length === 0) return;
    const now = this.options.now();
    const decisions: BanDecision[] = [];
    let upTo: number;
    try {
      upTo = this.options.store.latestBanId();
      for (const { definition, engine, selection } of this.jails) {
        const counts = this.options.store.recentBanCounts(this.after ?? upTo, upTo, selection, now - definition.findtime, definition.maxretry);
        const watched = definition.bansJails?.join(', ') ?? 'other jails';
        for (const [address, bans] of counts) {
          const decision = await engine.judge(address, bans, `${bans} bans in ${formatDuration(definition.findtime)} (${watched})`);
          if (decision) decisions.push(decision);
        }
      }
      for (const { jail, engine, escalations } of this.escalating) {
        for (const { family, prefix, count, window } of escalations) {
          for (const found of this.options.store.escalations({ jail, family, prefix, since: now - window, least: count, after: this.after ?? upTo, upTo })) {
            const reason = `escalated: ${found.addresses} addresses of ${found.network} banned in ${formatDuration(window)}`;
            const decision = await engine.judgeNetwork(found.network, found.addresses, found.longest, reason);
            if (decision) decisions.push(decision);
          }
        }
      }
    } catch (error) {
      // Counted again with the next bans recorded: the row read up to has not moved.
      if (!isDamaged(error)) this.options.log(`counting recorded bans failed: ${messageOf(error)}`, 'error');
      return;
    }
    this.after = upTo;
    if (decisions.length > 0) await this.options.ban(decisions);
  }

  private bannedIn(jail: string, address: string, now: number): boolean {
    const held = this.options.writer.heldTouching(address, now);
    return [...this.options.store.activeTouching(address, now), ...held].some((ban) => ban.jail === jail && ban.address === address);
  }
}
