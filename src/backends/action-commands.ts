import { readFileSync } from 'node:fs';
import { lookup, lookupService } from 'node:dns/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import ipaddr from 'ipaddr.js';
import { OperationError, messageOf, nowSeconds, type ActionDefinition, type ActionScripts, type Family } from '../core/index.js';
import { readActionState, writeActionState, type ActionState, type HeldBan } from './action-state.js';
import { runShell, type ShellResult, type ShellRunner } from './shell-command.js';
import { fillTemplate, parseTemplate, type TagValue, type TemplatePart } from './shell-template.js';
import { ensured, type ApplyReport, type Backend, type Command, type Diff, type Entry, type EntryKey } from './types.js';

/** What the store knows of a ban, for the tags of its commands. */
export interface BanDetails {
  readonly bannedAt: number;
  readonly expiresAt: number | null;
  readonly failures: number;
  readonly banCount: number;
  /** The matched log lines. */
  readonly matches: readonly string[];
  /** The filter's captures by fail2ban's ticket names (`user` for `<F-USER>`, `fid` for `<F-ID>`); absent ones are empty. */
  readonly captures?: Readonly<Record<string, string>>;
  /** `<ipmatches>`/`<ipfailures>`: every jail's bans of the address; the ban's own when absent. */
  readonly ipMatches?: readonly string[];
  readonly ipFailures?: number;
  /** `<ipjailmatches>`/`<ipjailfailures>`: this jail's bans of the address; the ban's own when absent. */
  readonly ipJailMatches?: readonly string[];
  readonly ipJailFailures?: number;
}

/** The latest ban (active or lifted) of `address` in `jail`. */
export type BanDetailsLookup = (jail: string, address: string) => BanDetails | undefined;

export interface ActionBackendOptions {
  readonly action: ActionDefinition;
  readonly jail: string;
  /** The JSON record of what the action holds (see `actionStateFile`). */
  readonly stateFile: string;
  readonly details?: BanDetailsLookup;
  /** Default: `runShell`, the real `/bin/sh`. */
  readonly run?: ShellRunner;
  /** This boot's identity (default: the kernel's boot_id). A record from another boot is not started. */
  readonly boot?: string;
}

const SHELL = '/bin/sh';
/** `$0` of the scripts: what the shell names itself in its error messages. */
const SCRIPT_NAME = 'f2b-store';
/** How long a lost state may be written late while many commands run. */
const SAVE_INTERVAL_MS = 1000;
const DNS_TIMEOUT_MS = 2000;

const TRUSTED_TAGS = new Set(['ip', 'ip-rev', 'family', 'failures', 'time', 'bantime', 'bancount', 'ipfailures', 'ipjailfailures', 'restored']);
const RUN_TIME_TAGS = new Set([...TRUSTED_TAGS, 'ip-host', 'fid', 'matches', 'ipmatches', 'ipjailmatches', 'fq-hostname', 'sh-hostname']);
const CAPTURE_TAG = /^F-([A-Z0-9_-]+)$/;
/** fail2ban's names of captures whose tag differs (`<F-ID>` is the ticket's `fid`). */
const CAPTURE_NAMES: ReadonlyMap<string, string> = new Map([['id', 'fid'], ['port', 'fport']]);

const isRunTimeTag = (name: string): boolean => RUN_TIME_TAGS.has(name) || CAPTURE_TAG.test(name);

/** Where the daemon keeps an action's record: `<db dir>/actions/<jail>-<actname>.json`. */
export function actionStateFile(dbFile: string, jail: string, actname: string): string {
  return join(dirname(dbFile), 'actions', `${jail}-${actname.replace(/[^\w.-]/g, '_')}.json`);
}

function currentBoot(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

function withTimeout<T>(promise: Promise<T>, fallback: T): Promise<T> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), DNS_TIMEOUT_MS);
    promise.then(resolve, () => resolve(fallback)).finally(() => clearTimeout(timer));
  });
}

/** fail2ban's `<ip-rev>`: `203.0.113.7` → `7.113.0.203.` (a network: its first address). */
function reversed(address: string): string {
  const host = address.split('/')[0] ?? address;
  if (!ipaddr.isValid(host)) return '';
  const parsed = ipaddr.parse(host);
  const parts = parsed.kind() === 'ipv4'
    ? host.split('.')
    : parsed.toByteArray().flatMap((byte) => [(byte >> 4).toString(16), (byte & 15).toString(16)]);
  return `${parts.reverse().join('.')}.`;
}

function describeFailure(result: ShellResult, timeout: number): string {
  const why = result.error !== undefined ? `could not run: ${result.error}`
    : result.timedOut ? `timed out after ${timeout} s`
      : result.code === null ? `killed by ${result.signal ?? 'a signal'}` : `exit ${result.code}`;
  const output = (result.stderr.trim() || result.stdout.trim()).split('\n').slice(-5).join('; ');
  return output === '' ? why : `${why}: ${output}`;
}

/** One command's subject: a ban, or none (actionstart, actionstop, actionflush, actioncheck). */
interface Subject {
  /** `''` for an action without families, else `inet4`/`inet6`. */
  readonly operation: string;
  readonly ban?: HeldBan;
  readonly details?: BanDetails;
  readonly startedAt?: number;
}

/**
 * A jail's fail2ban action.d action as a backend: `actionban` for each address added,
 * `actionunban` for each removed, one command per address as fail2ban runs them, through
 * `/bin/sh -c` with run-time tags passed as data (see shell-template). Its actual state is the
 * record of the bans whose actionban succeeded (`stateFile`); a failed command is reported in
 * the ApplyReport and, left out of the record, retried by the next reconcile.
 *
 * Lifecycle as in fail2ban: `ensure` runs actionstart once per action (on the first ban of a
 * family when it starts on demand), then actioncheck on every later call; a failing check runs
 * actionrepair (or actionstop + actionstart) and, unless the action is `norestored`, forgets
 * its record so that every ban is replayed. A new boot means the same. `flush` runs actionflush
 * (or actionunban per ban) and actionstop. Stopping the daemon without flushing leaves the action
 * started and its bans in place, as the firewall backends do.
 */
export function createActionBackend(options: ActionBackendOptions): Backend {
  const { action, jail, stateFile } = options;
  const run = options.run ?? runShell;
  const boot = options.boot ?? currentBoot();
  const name = `action:${jail}:${action.actname}`;
  const operations = action.perFamily ? ['inet4', 'inet6'] : [''];
  const templates = new Map<string, TemplatePart[]>();
  let fqdn: Promise<string> | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  /** One operation at a time: the daemon's reconcile and its immediate changes may overlap. */
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const result = queue.then(task, task);
    queue = result.catch(() => undefined);
    return result;
  }

  const operationOf = (family: Family): string => (action.perFamily ? (family === 4 ? 'inet4' : 'inet6') : '');
  const scriptsOf = (operation: string): ActionScripts => (operation === 'inet6' ? action.commands.inet6 : action.commands.inet4);

  function template(script: string): TemplatePart[] {
    let parts = templates.get(script);
    if (parts === undefined) {
      parts = parseTemplate(script, isRunTimeTag);
      templates.set(script, parts);
    }
    return parts;
  }

  function fullHostname(): Promise<string> {
    fqdn ??= withTimeout((async () => {
      const { address } = await lookup(hostname());
      const found = (await lookupService(address, 0)).hostname;
      return found.includes('.') ? found : hostname();
    })(), hostname());
    return fqdn;
  }

  function tagValues(subject: Subject, now: number, host: { full: string; ipHost: string }): (tag: string) => TagValue | undefined {
    const { ban, details } = subject;
    const address = ban?.address ?? '';
    const matches = details?.matches ?? [];
    const captures = new Map(Object.entries(details?.captures ?? {}));
    const bannedAt = details?.bannedAt ?? ban?.bannedAt;
    const expiresAt = details === undefined ? ban?.expiresAt : details.expiresAt;
    const bantime = ban === undefined || bannedAt === undefined || expiresAt === undefined ? action.bantime
      : expiresAt === null ? -1 : Math.max(0, expiresAt - bannedAt);
    const trusted = new Map(Object.entries({
      ip: address,
      'ip-rev': address === '' ? '' : reversed(address),
      family: ban === undefined ? subject.operation : ban.family === 4 ? 'inet4' : 'inet6',
      failures: String(details?.failures ?? 0),
      time: String(bannedAt ?? now),
      bantime: String(bantime),
      bancount: String(details?.banCount ?? 0),
      ipfailures: String(details?.ipFailures ?? details?.failures ?? 0),
      ipjailfailures: String(details?.ipJailFailures ?? details?.failures ?? 0),
      restored: bannedAt !== undefined && subject.startedAt !== undefined && bannedAt < subject.startedAt ? '1' : '0',
    }));
    const untrusted = new Map(Object.entries({
      'ip-host': host.ipHost,
      fid: captures.get('fid') ?? address,
      matches: matches.join('\n'),
      ipmatches: (details?.ipMatches ?? matches).join('\n'),
      ipjailmatches: (details?.ipJailMatches ?? matches).join('\n'),
      'fq-hostname': host.full,
      'sh-hostname': hostname().split('.')[0] ?? '',
    }));
    return (tag) => {
      const own = trusted.get(tag);
      if (own !== undefined) return { text: own, trusted: true };
      const other = untrusted.get(tag);
      if (other !== undefined) return { text: other };
      const capture = CAPTURE_TAG.exec(tag)?.[1]?.toLowerCase();
      if (capture === undefined) return undefined;
      return { text: captures.get(CAPTURE_NAMES.get(capture) ?? capture) ?? '' };
    };
  }

  function invocation(script: string, values: (tag: string) => TagValue | undefined): Command {
    const filled = fillTemplate(template(script), values);
    return { argv: [SHELL, '-c', filled.script, SCRIPT_NAME, ...filled.params] };
  }

  /** Runs one script for `subject`; resolves to an error message, or undefined when it succeeded. */
  async function exec(script: string, subject: Subject, now: number, ran?: Command[]): Promise<string | undefined> {
    if (script.trim() === '') return undefined;
    const full = script.includes('<fq-hostname>') ? await fullHostname() : hostname();
    const ipHost = subject.ban !== undefined && script.includes('<ip-host>')
      ? await withTimeout(lookupService(subject.ban.address.split('/')[0] ?? '', 0).then((r) => r.hostname), '')
      : '';
    const command = invocation(script, tagValues(subject, now, { full, ipHost }));
    ran?.push(command);
    const result = await run(command.argv, action.timeout * 1000);
    return result.code === 0 ? undefined : describeFailure(result, action.timeout);
  }

  /** Drops the record of `operation`'s bans: its environment was rebuilt, so they are replayed (fail2ban's ban epoch). */
  function forget(state: ActionState, operation: string): void {
    if (action.norestored) return;
    for (const ban of [...state.bans.values()]) {
      if (operationOf(ban.family) === operation) state.bans.delete(ban.address);
    }
  }

  async function start(state: ActionState, operation: string, now: number, ran?: Command[]): Promise<string | undefined> {
    const error = await exec(scriptsOf(operation).actionstart, { operation }, now, ran);
    if (error !== undefined) return `actionstart: ${error}`;
    state.started.set(operation, now);
    return undefined;
  }

  /**
   * fail2ban's invariant check: actioncheck; when it fails and repair is allowed, actionrepair
   * (or actionstop + actionstart) and actioncheck again. An error message, or undefined when sane.
   */
  async function invariant(state: ActionState, operation: string, repair: boolean, now: number, ran?: Command[]): Promise<string | undefined> {
    const scripts = scriptsOf(operation);
    const subject = { operation };
    // A passing check changed nothing: it is not reported as run, so the drift check stays cheap.
    const check = await exec(scripts.actioncheck, subject, now);
    if (check === undefined) return undefined;
    if (!repair) return `actioncheck: ${check}`;
    if (scripts.actionrepair !== '') {
      const repaired = await exec(scripts.actionrepair, subject, now, ran);
      if (repaired !== undefined) {
        state.started.delete(operation);
        return `actioncheck: ${check}; actionrepair: ${repaired}`;
      }
    } else {
      // As fail2ban: a failing actionstop does not prevent the new start.
      await exec(scripts.actionstop, subject, now, ran);
      state.started.delete(operation);
      const restarted = await start(state, operation, now, ran);
      if (restarted !== undefined) return `actioncheck: ${check}; ${restarted}`;
    }
    forget(state, operation);
    const again = await exec(scripts.actioncheck, subject, now, ran);
    return again === undefined ? undefined : `actioncheck after repair: ${again}`;
  }

  /** actionban/actionunban/actionprolong; on failure, the invariant check and one more try, as fail2ban does. */
  async function perform(state: ActionState, kind: 'actionban' | 'actionunban' | 'actionprolong', subject: Subject, now: number): Promise<string | undefined> {
    const scripts = scriptsOf(subject.operation);
    const first = await exec(scripts[kind], subject, now);
    if (first === undefined) return undefined;
    if (scripts.actioncheck === '') return `${kind}: ${first}`;
    const sane = await invariant(state, subject.operation, kind !== 'actionunban' || action.repairOnUnban, now);
    if (sane !== undefined) return `${kind}: ${first}; ${sane}`;
    const again = await exec(scripts[kind], subject, now);
    return again === undefined ? undefined : `${kind}: ${again}`;
  }

  async function load(): Promise<{ state: ActionState; changed: boolean }> {
    const state = await readActionState(stateFile, boot);
    if (state.boot === boot) return { state, changed: false };
    // A reboot lost whatever the action had set up: it starts again, and its bans are replayed unless norestored.
    return { state: { boot, started: new Map(), bans: action.norestored ? state.bans : new Map() }, changed: true };
  }

  function detailsOf(address: string): BanDetails | undefined {
    return options.details?.(jail, address);
  }

  function subjectOf(state: ActionState, ban: HeldBan): Subject {
    const operation = operationOf(ban.family);
    const details = detailsOf(ban.address);
    const startedAt = state.started.get(operation);
    return { operation, ban, ...(details === undefined ? {} : { details }), ...(startedAt === undefined ? {} : { startedAt }) };
  }

  function held(entry: Entry, now: number, details: BanDetails | undefined): HeldBan {
    return { address: entry.address, family: entry.family, bannedAt: details?.bannedAt ?? now, expiresAt: entry.expiresAt };
  }

  return {
    name,

    represent(desired: readonly Entry[]): Entry[] {
      return desired.filter((entry) => entry.jail === jail);
    },

    async list(): Promise<EntryKey[]> {
      const { state } = await load();
      return [...state.bans.values()].map((ban) => ({ jail, address: ban.address, family: ban.family }));
    },

    ensure(_jails, now) {
      return serial(async () => {
        const { state, changed } = await load();
        const ran: Command[] = [];
        const shape = (): string => JSON.stringify([...state.started, state.bans.size]);
        const before = shape();
        let problem: string | undefined;
        for (const operation of operations) {
          const found = state.started.has(operation) ? await invariant(state, operation, true, now, ran)
            : action.startOnDemand ? undefined : await start(state, operation, now, ran);
          problem ??= found;
        }
        if (changed || shape() !== before) await writeActionState(stateFile, state);
        if (problem !== undefined) throw new OperationError(`${name}: ${problem}`);
        return ensured(ran);
      });
    },

    plan(diff: Diff, _jails, now: number): readonly Command[] {
      const adding = new Set(diff.add.map((e) => e.address));
      const commandFor = (kind: keyof ActionScripts, entry: Entry | EntryKey): Command[] => {
        const details = detailsOf(entry.address);
        const ban = held({ expiresAt: null, ...entry }, now, details);
        const operation = operationOf(entry.family);
        const script = scriptsOf(operation)[kind];
        if (script.trim() === '') return [];
        return [invocation(script, tagValues({ operation, ban, ...(details === undefined ? {} : { details }) }, now, { full: hostname(), ipHost: entry.address }))];
      };
      const removing = new Set(diff.remove.map((e) => e.address));
      return [
        ...diff.remove.filter((e) => !adding.has(e.address)).flatMap((e) => commandFor('actionunban', e)),
        ...diff.add.flatMap((e) => commandFor(removing.has(e.address) ? 'actionprolong' : 'actionban', e)),
      ];
    },

    apply(diff: Diff, _jails, now: number): Promise<ApplyReport> {
      return serial(async () => {
        const { state } = await load();
        const failed: { entry: EntryKey; error: string }[] = [];
        let added = 0;
        let removed = 0;
        let savedAt = Date.now();
        const progress = async (): Promise<void> => {
          if (Date.now() - savedAt < SAVE_INTERVAL_MS) return;
          await writeActionState(stateFile, state);
          savedAt = Date.now();
        };
        const attempt = async (entry: EntryKey, task: () => Promise<string | undefined>): Promise<boolean> => {
          let error: string | undefined;
          try {
            error = await task();
          } catch (thrown) {
            error = messageOf(thrown);
          }
          if (error !== undefined) failed.push({ entry, error: `${name}: ${error}` });
          await progress();
          return error === undefined;
        };

        const adding = new Set(diff.add.filter((e) => e.jail === jail).map((e) => e.address));
        const removing = new Set(diff.remove.filter((e) => e.jail === jail).map((e) => e.address));
        for (const entry of diff.remove) {
          if (entry.jail !== jail || adding.has(entry.address)) continue;
          const ban = state.bans.get(entry.address);
          const done = ban === undefined || await attempt(entry, () => perform(state, 'actionunban', subjectOf(state, ban), now));
          if (done) {
            state.bans.delete(entry.address);
            removed++;
          }
        }
        for (const entry of diff.add) {
          if (entry.jail !== jail) continue;
          const operation = operationOf(entry.family);
          const known = state.bans.get(entry.address);
          const done = await attempt(entry, async () => {
            if (known !== undefined) {
              // The ban was extended (applyChange sends it as removed and added): actionprolong, if the action has one.
              const extended = removing.has(entry.address) && known.expiresAt !== entry.expiresAt;
              return extended ? perform(state, 'actionprolong', { ...subjectOf(state, known), ban: { ...known, expiresAt: entry.expiresAt } }, now) : undefined;
            }
            if (!state.started.has(operation)) {
              const problem = await start(state, operation, now);
              if (problem !== undefined) return problem;
            }
            const details = detailsOf(entry.address);
            const ban = held(entry, now, details);
            const startedAt = state.started.get(operation);
            const subject = { operation, ban, ...(details === undefined ? {} : { details }), ...(startedAt === undefined ? {} : { startedAt }) };
            const error = await perform(state, 'actionban', subject, now);
            if (error === undefined) state.bans.set(entry.address, ban);
            return error;
          });
          if (done) {
            if (known !== undefined) state.bans.set(entry.address, { ...known, expiresAt: entry.expiresAt });
            added++;
          }
        }
        await writeActionState(stateFile, state);
        return { added, removed, failed };
      });
    },

    flush() {
      return serial(async () => {
        const { state } = await load();
        const now = nowSeconds();
        const problems: string[] = [];
        const used = new Set([...state.started.keys(), ...[...state.bans.values()].map((ban) => operationOf(ban.family))]);
        for (const operation of operations.filter((o) => used.has(o))) {
          const scripts = scriptsOf(operation);
          const bans = [...state.bans.values()].filter((ban) => operationOf(ban.family) === operation);
          let flushed = bans.length === 0;
          if (!flushed && scripts.actionflush !== '') {
            const error = await exec(scripts.actionflush, { operation }, now);
            if (error === undefined) flushed = true;
            else problems.push(`actionflush: ${error}`);
          }
          for (const ban of bans) {
            const error = flushed ? undefined : await perform(state, 'actionunban', subjectOf(state, ban), now);
            if (error === undefined) state.bans.delete(ban.address);
            else problems.push(`${ban.address}: ${error}`);
          }
          if (state.started.has(operation)) {
            const error = await exec(scripts.actionstop, { operation }, now);
            if (error === undefined) state.started.delete(operation);
            else problems.push(`actionstop: ${error}`);
          }
        }
        await writeActionState(stateFile, state);
        if (problems.length > 0) throw new OperationError(`${name}: flush: ${problems.join('; ')}`);
      });
    },
  };
}
