import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from '../../src/backends/types.js';
import { createNetns, type Netns } from './netns.js';
import { scaled } from './slowness.js';

/**
 * A firewalld of our own: its own D-Bus system bus on a socket in a temp dir, its own copy of
 * /etc/firewalld, running inside its own network namespace. The host's firewalld and system bus
 * are never contacted.
 */
export interface PrivateFirewalld {
  readonly netns: Netns;
  /** process.env with DBUS_SYSTEM_BUS_ADDRESS pointing at the private bus. */
  readonly env: NodeJS.ProcessEnv;
  readonly busAddress: string;
  /** The temp dir: `etc/` is firewalld's system config, `firewalld.log` and `dbus.log` its output. */
  readonly dir: string;
  /** Runs `firewall-cmd ARGS` in the namespace on the private bus and returns stdout; throws with stderr. */
  firewallCmd(args: readonly string[], input?: string): string;
  /**
   * Calls firewalld's D-Bus method `method` (after `org.fedoraproject.FirewallD1.`) on the object
   * at `path` with dbus-send's typed `args` (`string:x`, `array:string:a,b`); returns the printed
   * reply. Milliseconds, where each firewall-cmd starts a Python interpreter.
   */
  dbus(path: string, method: string, ...args: string[]): string;
  /** Runs one of the backend's own calls (src/backends/firewalld-dbus.ts) in the namespace on the private bus; returns stdout. */
  call(command: Command): string;
  /** firewalld's and dbus-daemon's output so far, for failure messages. */
  logs(): string;
  /** Stops firewalld and dbus-daemon (SIGTERM, then SIGKILL), deletes the namespace and the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const DBUS_NAME = 'org.fedoraproject.FirewallD1';
const DBUS_POLICY_DIRS = ['/usr/share/dbus-1/system.d', '/etc/dbus-1/system.d'];
/** Settings pinned in the copied firewalld.conf, so the tests see the same firewalld whatever the host's says. */
const PINNED_CONF: Readonly<Record<string, string>> = {
  FirewallBackend: 'nftables', Lockdown: 'no', LogDenied: 'off', CleanupOnExit: 'yes', FlushAllOnReload: 'yes', IndividualCalls: 'no',
};
const START_TIMEOUT_MS = scaled(30_000);
const STOP_TIMEOUT_MS = scaled(10_000);
const COMMAND_TIMEOUT_MS = scaled(60_000);

function busConfig(socket: string): string {
  const includes = DBUS_POLICY_DIRS.map((d) => `  <includedir>${d}</includedir>`).join('\n');
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_destination="org.freedesktop.DBus"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
    <allow send_type="method_call"/>
  </policy>
${includes}
</busconfig>
`;
}

function pinConf(file: string): void {
  const lines = (existsSync(file) ? readFileSync(file, 'utf8') : '').split('\n')
    .filter((line) => !Object.keys(PINNED_CONF).includes(line.split('=')[0]!.trim()));
  const pinned = Object.entries(PINNED_CONF).map(([key, value]) => `${key}=${value}`);
  writeFileSync(file, [...lines.filter((l) => l !== ''), ...pinned, ''].join('\n'));
}

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function terminate(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.pid === undefined || !alive(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS); });
  const late = await Promise.race([exited.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late && alive(child)) {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Starts a private firewalld (see DESIGN.md, "Testing against the real thing") and waits until
 * `firewall-cmd --state` says running. Everything it made is removed by `stop()`, and also when
 * the process exits without calling it.
 */
export async function startPrivateFirewalld(): Promise<PrivateFirewalld> {
  const dir = mkdtempSync(join(tmpdir(), 'f2b-firewalld-'));
  const socket = join(dir, 'bus.sock');
  const busAddress = `unix:path=${socket}`;
  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress };
  const dbusLog = join(dir, 'dbus.log');
  const firewalldLog = join(dir, 'firewalld.log');
  let netns: Netns | undefined;
  let dbus: ChildProcess | undefined;
  let firewalld: ChildProcess | undefined;
  let stopped = false;

  // Last resort when the test process ends without stop() (exit, or killed by SIGINT/SIGTERM):
  // kill what we started, drop the rest. SIGKILL of this process cannot be caught.
  const onExit = (): void => {
    for (const child of [firewalld, dbus]) if (child && alive(child)) child.kill('SIGKILL');
    try { netns?.remove(); } catch { /* already gone */ }
    rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    onExit();
    unhook();
    process.kill(process.pid, signal);
  };
  const unhook = (): void => {
    process.removeListener('exit', onExit);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeListener(signal, onSignal);
  };
  process.once('exit', onExit);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);

  const read = (file: string): string => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const logs = (): string => `--- firewalld ---\n${read(firewalldLog).trim()}\n--- dbus-daemon ---\n${read(dbusLog).trim()}`;

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    unhook();
    const problems: unknown[] = [];
    for (const child of [firewalld, dbus]) {
      try { await terminate(child); } catch (error) { problems.push(error); }
    }
    try { netns?.remove(); } catch (error) { problems.push(error); }
    rmSync(dir, { recursive: true, force: true });
    if (problems.length > 0) throw new AggregateError(problems, 'stopping the private firewalld');
  };

  const spawnLogged = (argv: readonly string[], logFile: string): ChildProcess => {
    const fd = openSync(logFile, 'a');
    try {
      const [file, ...args] = argv as [string, ...string[]];
      return spawn(file, args, { env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
  };

  const firewallCmd = (args: readonly string[], input?: string): string => {
    if (!netns) throw new Error('private firewalld is not running');
    return execFileSync('ip', ['netns', 'exec', netns.name, 'firewall-cmd', ...args],
      { env, encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
  };

  // Not through `ip netns exec` (a namespace entry, about 7 ms of CPU a call): the private bus is a
  // socket file, reached from any namespace, and firewalld makes its changes in its own.
  const dbusSend = (path: string, member: string, args: readonly string[]): string => {
    if (!netns) throw new Error('private firewalld is not running');
    return execFileSync('dbus-send', ['--system', '--print-reply', `--dest=${DBUS_NAME}`, path, member, ...args],
      { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
  };
  const callDbus = (path: string, method: string, ...args: string[]): string => dbusSend(path, `${DBUS_NAME}.${method}`, args);
  const call = (command: Command): string => {
    if (!netns) throw new Error('private firewalld is not running');
    return execFileSync('ip', ['netns', 'exec', netns.name, ...command.argv],
      { env, encoding: 'utf8', input: command.stdin, stdio: ['pipe', 'pipe', 'pipe'], timeout: COMMAND_TIMEOUT_MS });
  };

  try {
    cpSync('/etc/firewalld', join(dir, 'etc'), { recursive: true });
    pinConf(join(dir, 'etc', 'firewalld.conf'));
    // firewalld writes temp files to /run/firewalld; inside its own mount namespace /run is this dir.
    mkdirSync(join(dir, 'run'));
    writeFileSync(join(dir, 'bus.conf'), busConfig(socket));
    netns = createNetns();

    dbus = spawnLogged(['ip', 'netns', 'exec', netns.name,
      'dbus-daemon', `--config-file=${join(dir, 'bus.conf')}`, '--nofork', '--nopidfile', '--nosyslog'], dbusLog);
    const busDeadline = Date.now() + START_TIMEOUT_MS;
    while (!existsSync(socket)) {
      if (!alive(dbus)) throw new Error(`dbus-daemon exited (${dbus.exitCode ?? dbus.signalCode})`);
      if (Date.now() > busDeadline) throw new Error(`dbus-daemon did not create ${socket} within ${START_TIMEOUT_MS / 1000} s`);
      await sleep(50);
    }

    // `ip netns exec` runs the command in a fresh mount namespace (slave to the host's), so the
    // bind mount over /run stays private to firewalld.
    firewalld = spawnLogged(['ip', 'netns', 'exec', netns.name, 'sh', '-c', 'mount --bind "$0" /run && exec "$@"',
      join(dir, 'run'), 'firewalld', '--nofork', '--nopid', '--log-target', 'console',
      '--system-config', join(dir, 'etc')], firewalldLog);

    // The state property `firewall-cmd --state` reads, read with dbus-send: each firewall-cmd starts
    // a Python interpreter, tenths of a second of CPU taken from the firewalld being waited for.
    const deadline = Date.now() + START_TIMEOUT_MS;
    let last = '';
    for (;;) {
      if (!alive(firewalld)) throw new Error(`firewalld exited (${firewalld.exitCode ?? firewalld.signalCode})`);
      try {
        last = dbusSend('/org/fedoraproject/FirewallD1', 'org.freedesktop.DBus.Properties.Get', [`string:${DBUS_NAME}`, 'string:state']);
        if (/"RUNNING"/.test(last)) break;
      } catch (error) {
        last = error instanceof Error ? (error as { stderr?: string }).stderr?.trim() || error.message : String(error);
      }
      if (Date.now() > deadline) throw new Error(`firewalld not running after ${START_TIMEOUT_MS / 1000} s (its state property: ${last.trim()})`);
      await sleep(100);
    }
  } catch (error) {
    const message = `starting a private firewalld failed: ${error instanceof Error ? error.message : String(error)}\n${logs()}`;
    await stop().catch(() => undefined);
    throw new Error(message, { cause: error });
  }

  return { netns, env, busAddress, dir, firewallCmd, dbus: callDbus, call, logs, stop };
}
