import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { waitFor } from './daemon.js';

/** What a systemd unit's [Service] section says about the file system and privileges, as this helper reproduces it. */
export interface UnitSandbox {
  readonly execStart: readonly string[];
  /** Mounted read-only, with everything below them (ProtectSystem=). */
  readonly readOnly: readonly string[];
  /** Writable again inside a read-only tree: ReadWritePaths=, StateDirectory=, LogsDirectory=. */
  readonly readWrite: readonly { readonly path: string; readonly optional: boolean }[];
  readonly privateTmp: boolean;
  readonly capabilities: readonly string[] | undefined;
  readonly noNewPrivileges: boolean;
  readonly umask: number | undefined;
}

const PROTECT_SYSTEM: Record<string, readonly string[]> = {
  strict: ['/'],
  full: ['/usr', '/boot', '/efi', '/etc'],
  yes: ['/usr', '/boot', '/efi'],
  no: [],
};

/** Reads the settings of a unit file this helper reproduces; a setting it does not know of is ignored. */
export function parseUnit(text: string): UnitSandbox {
  const values = new Map<string, string[]>();
  let section = '';
  for (const line of text.split('\n')) {
    const header = /^\[(.+)\]$/.exec(line.trim());
    if (header) section = header[1]!;
    const setting = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (section === 'Service' && setting) values.set(setting[1]!, [...(values.get(setting[1]!) ?? []), setting[2]!.trim()]);
  }
  const last = (key: string): string | undefined => values.get(key)?.at(-1);
  const words = (key: string): string[] => (values.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter((w) => w !== '');
  const protect = last('ProtectSystem') ?? 'no';
  const readOnly = PROTECT_SYSTEM[protect];
  if (readOnly === undefined) throw new Error(`ProtectSystem=${protect}: not reproduced by this helper`);
  const bounding = last('CapabilityBoundingSet');
  return {
    execStart: (last('ExecStart') ?? '').split(/\s+/).filter((w) => w !== ''),
    readOnly,
    readWrite: [
      ...words('ReadWritePaths').map((w) => ({ path: w.replace(/^-/, ''), optional: w.startsWith('-') })),
      ...words('StateDirectory').map((name) => ({ path: `/var/lib/${name}`, optional: false })),
      ...words('LogsDirectory').map((name) => ({ path: `/var/log/${name}`, optional: false })),
    ],
    privateTmp: last('PrivateTmp') === 'yes',
    capabilities: bounding?.split(/\s+/).filter((w) => w !== ''),
    noNewPrivileges: last('NoNewPrivileges') === 'yes',
    umask: last('UMask') === undefined ? undefined : parseInt(last('UMask')!, 8),
  };
}

/** A mount point from /proc/PID/mountinfo, with its file system type and whether it is read-only. */
interface MountPoint {
  readonly path: string;
  readonly type: string;
  readonly readOnly: boolean;
}

function mountPoints(pid: number): MountPoint[] {
  const unescape = (text: string): string => text.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trimEnd().split('\n').map((line) => {
    const [before, after] = line.split(' - ');
    const fields = before!.split(' ');
    return { path: unescape(fields[4]!), type: after!.split(' ')[0]!, readOnly: fields[5]!.split(',').includes('ro') };
  });
}

/** The API file systems ProtectSystem= leaves as they are. */
function apiFileSystem(path: string): boolean {
  return ['/proc', '/sys', '/dev'].some((api) => path === api || path.startsWith(`${api}/`));
}

export interface SandboxOptions {
  /** Directories laid over with an overlay whose upper directory is given: what the sandbox needs there and the host lacks (a config dir, a hosts.deny) is made in it, never on the host. */
  readonly overlays: Readonly<Record<string, string>>;
  /** Host paths bound to the unit's writable paths (`/var/lib/f2b-store` → a temp dir), as systemd binds a path onto itself. */
  readonly sources: Readonly<Record<string, string>>;
  /** The network namespace the service runs in (its firewall commands stay there). */
  readonly netns: string;
  readonly env: NodeJS.ProcessEnv;
}

/** A service started under its unit's mounts and privileges; `stop()` ends it and the namespace holder, by PID. */
export interface SandboxedService {
  readonly child: ChildProcess;
  log(): string;
  /** Runs a command in the service's mount namespace (to see what it sees). */
  run(argv: readonly string[]): string;
  stop(): Promise<number | null>;
}

/**
 * Starts the unit's ExecStart= the way systemd would run it, where systemd itself cannot run: a
 * mount namespace of its own (unshare, held by a sleeping process) in which the unit's
 * ProtectSystem= tree is remounted read-only, its ReadWritePaths=, StateDirectory= and
 * LogsDirectory= are bound writable again, PrivateTmp= gets empty /tmp and /var/tmp; then the
 * command, entered into that namespace and the given network namespace, with the unit's
 * capability bounding set, NoNewPrivileges= and UMask=.
 */
export async function startSandboxed(unit: UnitSandbox, options: SandboxOptions): Promise<SandboxedService> {
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
  const pid = holder.pid!;
  const own = readlinkSync('/proc/self/ns/mnt');
  let child: ChildProcess | undefined;
  const inside = (argv: readonly string[]): string => execFileSync('nsenter', ['-t', String(pid), '-m', '--', ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const end = async (): Promise<number | null> => {
    let code: number | null = null;
    if (child) {
      const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      code = child.exitCode ?? await exited;
    }
    holder.kill('SIGKILL');
    return code;
  };
  try {
    await waitFor('the mount namespace', () => {
      try {
        return readlinkSync(`/proc/${pid}/ns/mnt`) !== own;
      } catch {
        return false;
      }
    }, 10_000);
    for (const [dir, upper] of Object.entries(options.overlays)) {
      const work = `${upper}.work`;
      mkdirSync(work, { recursive: true });
      inside(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${dir},upperdir=${upper},workdir=${work}`, dir]);
    }
    const protectedTree = (path: string): boolean => unit.readOnly.some((top) => top === '/' || path === top || path.startsWith(`${top}/`));
    for (const mount of mountPoints(pid)) {
      if (mount.readOnly || mount.type === 'nsfs' || apiFileSystem(mount.path) || !protectedTree(mount.path)) continue;
      inside(['mount', '-o', 'remount,bind,ro', mount.path]);
    }
    for (const { path, optional } of unit.readWrite) {
      const source = options.sources[path] ?? path;
      if (!existsSync(source) || inside(['sh', '-c', 'test -e "$1" && echo yes || echo no', 'sh', path]).trim() !== 'yes') {
        if (optional) continue;
        throw new Error(`${path} (from ${source}) does not exist in the sandbox: give it a source or an overlay`);
      }
      inside(['mount', '--rbind', source, path]);
      inside(['mount', '-o', 'remount,bind,rw', path]);
    }
    if (unit.privateTmp) for (const tmp of ['/tmp', '/var/tmp']) inside(['mount', '-t', 'tmpfs', '-o', 'mode=1777', 'tmpfs', tmp]);
    const privileges = [
      ...(unit.capabilities ? ['--bounding-set', ['-all', ...unit.capabilities.map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`)].join(',')] : []),
      ...(unit.noNewPrivileges ? ['--no-new-privs'] : []),
    ];
    const argv = ['-t', String(pid), '-m', `--net=/run/netns/${options.netns}`, '--', 'setpriv', ...privileges, '--', ...unit.execStart];
    const umask = unit.umask === undefined ? undefined : process.umask(unit.umask);
    try {
      child = spawn('nsenter', argv, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  } catch (error) {
    await end();
    throw error;
  }
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { output += d; });
  return { child, log: () => output, run: inside, stop: end };
}
