import { execFile } from 'node:child_process';
import { OperationError } from '../core/index.js';
import type { Command } from './types.js';

/** Runs one command and returns its stdout; throws OperationError naming the command and its stderr. */
export type Exec = (command: Command) => Promise<string>;

/** Packages that provide each firewall binary, for the "not installed" message. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  nft: 'nftables', ipset: 'ipset', iptables: 'iptables', ip6tables: 'iptables',
  'iptables-restore': 'iptables', 'ip6tables-restore': 'iptables', 'iptables-save': 'iptables',
  'ip6tables-save': 'iptables', 'firewall-cmd': 'firewalld', 'dbus-send': 'dbus-bin (dbus-tools on Fedora)', ip: 'iproute2',
};

const TIMEOUT_MS = 60_000;
const MAX_OUTPUT = 512 * 1024 * 1024;

/** Shows a command the way a person would type it, for messages only (never executed). */
export function describeCommand(command: Command): string {
  const shown = command.argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  return command.stdin === undefined ? shown : `${shown} < (${command.stdin.split('\n').length} lines)`;
}

/**
 * The real executor: argument vectors through execFile, never a shell. With `netns`, every
 * command runs inside that network namespace (`ip netns exec NAME …`).
 */
export function systemExec(netns?: string): Exec {
  return (command) => new Promise((resolve, reject) => {
    const argv = netns === undefined ? command.argv : ['ip', 'netns', 'exec', netns, ...command.argv];
    const [file, ...args] = argv as [string, ...string[]];
    const child = execFile(file, args, { timeout: TIMEOUT_MS, maxBuffer: MAX_OUTPUT, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) {
        resolve(stdout);
        return;
      }
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT'
        ? `${file} not found: install ${PACKAGE_OF[file] ?? file}`
        : error.killed ? `timed out after ${TIMEOUT_MS / 1000} s` : (stderr.trim() || error.message).split('\n').slice(0, 5).join('; ');
      reject(new OperationError(`${describeCommand(command)}: ${why}`, { cause: error }));
    });
    // A command that exits before reading its stdin (e.g. a missing namespace) makes the write
    // fail with EPIPE; its exit status already reports the failure above.
    child.stdin?.on('error', () => undefined);
    if (command.stdin !== undefined) child.stdin?.end(command.stdin);
  });
}
