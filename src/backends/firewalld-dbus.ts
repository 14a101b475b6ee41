import { OperationError } from '../core/index.js';
import type { Command } from './types.js';

/**
 * firewalld's D-Bus API through `dbus-send` (dbus-bin, which firewalld's dbus package needs) and,
 * for the arguments dbus-send cannot write (structures, dictionaries of lists), systemd's
 * `busctl`: C programs that cost a few milliseconds per call, where every firewall-cmd starts a
 * Python interpreter and firewalld's client library (about half a second). Used for everything but
 * entry files: reading state, changing a few entries (runtime and permanent), creating, changing
 * and deleting our ipsets and policy, and reloading.
 */
const DESTINATION = 'org.fedoraproject.FirewallD1';
const RUNTIME = '/org/fedoraproject/FirewallD1';
const PERMANENT = '/org/fedoraproject/FirewallD1/config';

/** A value of a D-Bus reply: strings (object paths too), numbers, booleans, arrays, and dictionaries with string keys. */
export type DbusValue = string | number | boolean | readonly DbusValue[] | { readonly [key: string]: DbusValue };

/** A call whose reply may take up to `replyTimeoutMs` (dbus-send waits 25 s by default). */
function callWaiting(replyTimeoutMs: number | undefined, path: string, method: string, args: readonly string[]): Command {
  const timeout = replyTimeoutMs === undefined ? [] : [`--reply-timeout=${replyTimeoutMs}`];
  return {
    argv: ['dbus-send', '--system', '--print-reply', ...timeout, `--dest=${DESTINATION}`, path, `${DESTINATION}.${method}`, ...args.map((a) => `string:${a}`)],
    ...(replyTimeoutMs === undefined ? {} : { timeoutMs: replyTimeoutMs }),
  };
}

const call = (path: string, method: string, ...args: readonly string[]): Command => callWaiting(undefined, path, method, args);

/** A value busctl writes for us: a string (`s`), an int32 (`i`) or a list of strings (`as`). */
export type BusctlValue = string | number | readonly string[];

/** busctl's words for one value: its signature, then the value (a list: its length, then its items). */
function busctlValue(value: BusctlValue): { signature: string; words: string[] } {
  if (typeof value === 'string') return { signature: 's', words: [value] };
  if (typeof value === 'number') return { signature: 'i', words: [String(value)] };
  return { signature: 'as', words: [String(value.length), ...value] };
}

/** A dictionary `a{sv}` as busctl's words: its length, then key, signature and value of each entry. */
function busctlDictionary(settings: Readonly<Record<string, BusctlValue>>): string[] {
  const entries = Object.entries(settings);
  return [String(entries.length), ...entries.flatMap(([key, value]) => {
    const { signature, words } = busctlValue(value);
    return [key, signature, ...words];
  })];
}

/**
 * A call through busctl with arguments of `signature` already in busctl's words. `--` ends its
 * options, so an argument such as `-32000` stays an argument.
 */
function busctlCall(path: string, method: string, signature: string, words: readonly string[]): Command {
  const dot = method.lastIndexOf('.');
  const iface = dot < 0 ? DESTINATION : `${DESTINATION}.${method.slice(0, dot)}`;
  return { argv: ['busctl', '--system', '--', 'call', DESTINATION, path, iface, method.slice(dot + 1), signature, ...words] };
}

/** Permanent: creates an ipset of `type` with these options (firewalld's structure: version, short, description, type, options, entries). */
export const newIpsetCall = (ipset: string, type: string, options: Readonly<Record<string, string>>): Command =>
  busctlCall(PERMANENT, 'config.addIPSet', 's(ssssa{ss}as)',
    [ipset, '', '', '', type, String(Object.keys(options).length), ...Object.entries(options).flat(), '0']);
/** Permanent: creates a policy with these settings. */
export const newPolicyCall = (policy: string, settings: Readonly<Record<string, BusctlValue>>): Command =>
  busctlCall(PERMANENT, 'config.addPolicy', 'sa{sv}', [policy, ...busctlDictionary(settings)]);
/** Permanent: sets these settings of the policy at `path` (from permanentPolicyPathCall); the others stay. */
export const permanentPolicyUpdateCall = (path: string, settings: Readonly<Record<string, BusctlValue>>): Command =>
  busctlCall(path, 'config.policy.update', 'a{sv}', busctlDictionary(settings));
/** Runtime: sets these settings of one policy; the others stay. */
export const runtimePolicyUpdateCall = (policy: string, settings: Readonly<Record<string, BusctlValue>>): Command =>
  busctlCall(RUNTIME, 'policy.setPolicySettings', 'sa{sv}', [policy, ...busctlDictionary(settings)]);

/** How long a reload may take: firewalld re-creates every object and refills every ipset (tens of seconds at 100,000 entries). */
const RELOAD_TIMEOUT_MS = 10 * 60_000;

/** Runtime: reloads the permanent configuration, as `firewall-cmd --reload` does (the reply comes when it is done). */
export const reloadCall = (): Command => callWaiting(RELOAD_TIMEOUT_MS, RUNTIME, 'reload', []);
/** Runtime: the names of the ipsets. */
export const runtimeIpsetsCall = (): Command => call(RUNTIME, 'ipset.getIPSets');
/** Runtime: the entries of one ipset. */
export const runtimeEntriesCall = (ipset: string): Command => call(RUNTIME, 'ipset.getEntries', ipset);
/** Runtime: adds or removes one entry of one ipset. */
export const runtimeEntryCall = (ipset: string, op: 'add' | 'remove', entry: string): Command =>
  call(RUNTIME, `ipset.${op}Entry`, ipset, entry);
/** Runtime: the names of the policies. */
export const runtimePoliciesCall = (): Command => call(RUNTIME, 'policy.getPolicies');
/** Runtime: one policy's settings (a dictionary). */
export const runtimePolicyCall = (policy: string): Command => call(RUNTIME, 'policy.getPolicySettings', policy);
/** Permanent: the names of the ipsets. */
export const permanentIpsetsCall = (): Command => call(PERMANENT, 'config.getIPSetNames');
/** Permanent: the object path of one ipset, for its entries (paths are numbered anew at each reload). */
export const permanentIpsetPathCall = (ipset: string): Command => call(PERMANENT, 'config.getIPSetByName', ipset);
/** Permanent: adds or removes one entry of the ipset at `path` (from permanentIpsetPathCall). */
export const permanentEntryCall = (path: string, op: 'add' | 'remove', entry: string): Command => call(path, `config.ipset.${op}Entry`, entry);
/** Permanent: deletes the ipset or policy at `path` (from permanentIpsetPathCall or permanentPolicyPathCall). */
export const permanentRemoveCall = (path: string, kind: 'ipset' | 'policy'): Command => call(path, `config.${kind}.remove`);
/** Permanent: the names of the policies. */
export const permanentPoliciesCall = (): Command => call(PERMANENT, 'config.getPolicyNames');
/** Permanent: the object path of one policy, for its settings. */
export const permanentPolicyPathCall = (policy: string): Command => call(PERMANENT, 'config.getPolicyByName', policy);
/** Permanent: the settings of the policy at `path` (from permanentPolicyPathCall). */
export const permanentPolicyCall = (path: string): Command => call(path, 'config.policy.getSettings');

/**
 * The values of a `dbus-send --print-reply` answer, e.g.
 *
 *     method return time=… sender=:1.1 -> destination=:1.8 serial=7 reply_serial=2
 *        array [
 *           dict entry(
 *              string "rich_rules"
 *              variant             array [
 *                    string "rule family="ipv4" source ipset="f2bs4-sshd" reject"
 *                 ]
 *           )
 *        ]
 *
 * A string runs from the first to the last quote of its line: dbus-send does not escape the
 * quotes inside (rich rules have them), and none of the strings firewalld gives us holds a newline.
 */
export function parseDbusReply(stdout: string): DbusValue[] {
  const lines = stdout.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  if (!lines[0]?.startsWith('method return')) throw new OperationError(`dbus-send printed no method return: ${stdout.slice(0, 80)}`);
  let at = 1;
  const next = (): string => {
    const line = lines[at++];
    if (line === undefined) throw new OperationError('dbus-send reply ended in the middle of a value');
    return line;
  };
  const value = (text: string): DbusValue => {
    if (text.startsWith('variant ')) return value(text.slice('variant '.length).trimStart());
    if (text.startsWith('string "') || text.startsWith('object path "')) return text.slice(text.indexOf('"') + 1, text.lastIndexOf('"'));
    if (text === 'boolean true' || text === 'boolean false') return text === 'boolean true';
    const number = /^(?:byte|u?int(?:16|32|64)|double) (\S+)$/.exec(text);
    if (number) return Number(number[1]);
    if (text === 'array [') {
      const items: DbusValue[] = [];
      const entries: [string, DbusValue][] = [];
      for (let line = next(); line !== ']'; line = next()) {
        if (line === 'dict entry(') {
          const key = value(next());
          entries.push([String(key), value(next())]);
          if (next() !== ')') throw new OperationError('dbus-send reply: a dict entry holds more than a key and a value');
        } else {
          items.push(value(line));
        }
      }
      return entries.length > 0 ? Object.fromEntries(entries) : items;
    }
    throw new OperationError(`dbus-send reply holds a value f2b-store cannot read: ${text}`);
  };
  const values: DbusValue[] = [];
  while (at < lines.length) values.push(value(next()));
  return values;
}

/** The strings of a reply whose one value is an array of strings (`as`). */
export function replyStrings(stdout: string): string[] {
  const [first] = parseDbusReply(stdout);
  if (!Array.isArray(first)) throw new OperationError(`dbus-send reply is not a list: ${stdout.slice(0, 80)}`);
  return first.map(String);
}

/** The one string (or object path) of a reply. */
export function replyString(stdout: string): string {
  const [first] = parseDbusReply(stdout);
  if (typeof first !== 'string') throw new OperationError(`dbus-send reply is not a string: ${stdout.slice(0, 80)}`);
  return first;
}

/** The dictionary of a reply whose one value is one (`a{sv}`); an empty array is an empty dictionary. */
export function replyDictionary(stdout: string): { readonly [key: string]: DbusValue } {
  const [first] = parseDbusReply(stdout);
  if (Array.isArray(first) && first.length === 0) return {};
  if (typeof first !== 'object' || Array.isArray(first)) throw new OperationError(`dbus-send reply is not a dictionary: ${stdout.slice(0, 80)}`);
  return first as { readonly [key: string]: DbusValue };
}
