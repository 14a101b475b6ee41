import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir } from '../helpers/cli.js';
import { startDaemon, waitFor, type DaemonProcess } from '../helpers/daemon.js';

function asNobody(argv: readonly string[]): void {
  execFileSync('setpriv', ['--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', ...argv]);
}

function running(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

describe('the pid file and the control socket: only our own daemon counts, nothing planted is followed', () => {
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  const daemons: DaemonProcess[] = [];
  const others: ChildProcess[] = [];
  /** A database path in a fresh directory; `open` makes the directory 0777 (and the database needs --insecure-db). */
  const place = (open = false): { dir: string; db: string } => {
    const dir = join(tmp.dir, `case-${++n}`);
    mkdirSync(dir, { mode: 0o700 });
    if (open) chmodSync(dir, 0o777);
    return { dir, db: join(dir, 'bans.sqlite3') };
  };
  const start = async (args: string[]): Promise<DaemonProcess> => {
    const daemon = startDaemon(args);
    daemons.push(daemon);
    await waitFor('the daemon to start', () => daemon.log().includes('started (pid'), 20_000);
    return daemon;
  };
  /** An unrelated live process: what a pid file from before a reboot may name. */
  const bystander = (): ChildProcess => {
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    others.push(child);
    return child;
  };

  before(() => {
    tmp = tempDir();
    chmodSync(tmp.dir, 0o711);
  });
  after(async () => {
    for (const daemon of daemons) await daemon.stop();
    for (const child of others) child.kill();
    tmp.cleanup();
  });

  it('a stale pid file naming an unrelated live process: start goes ahead, stop signals only the daemon', async () => {
    const { dir, db } = place();
    const sleeper = bystander();
    writeFileSync(join(dir, 'f2b-store.pid'), `${sleeper.pid}\n`);
    const before = runCli(['--db', db, 'stop']);
    assert.equal(before.code, 0, before.stderr);
    assert.equal(before.stdout, 'no daemon running\n');
    assert.ok(running(sleeper), 'stop left the process the stale pid file names alone');
    const daemon = await start(['--db', db]);
    assert.equal(readFileSync(join(dir, 'f2b-store.pid'), 'utf8'), `${daemon.child.pid}\n`);
    const stopped = runCli(['--db', db, 'stop']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(stopped.stdout, `stopped daemon pid ${daemon.child.pid}\n`);
    assert.equal(await daemon.stop(), 0);
    assert.ok(running(sleeper), 'still alive');
    assert.ok(!existsSync(join(dir, 'f2b-store.pid')), 'the daemon took its pid file away');
  });

  it('symlinks another user planted at the pid file and socket names are not followed: their targets stay as they were', async () => {
    const { dir, db } = place(true);
    const victims = join(tmp.dir, 'root-only');
    mkdirSync(victims, { mode: 0o711 });
    const victim = join(victims, 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o640 });
    asNobody(['ln', '-s', victim, join(dir, 'f2b-store.pid')]);
    asNobody(['ln', '-s', victim, join(dir, 'f2b-store.sock')]);
    const daemon = await start(['--insecure-db', '--db', db]);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.equal(lstatSync(victim).mode & 0o7777, 0o640, 'its mode too');
    const pidFile = lstatSync(join(dir, 'f2b-store.pid'));
    assert.ok(pidFile.isFile() && pidFile.uid === 0, 'the pid file is a file of its own, made by the daemon');
    const socket = lstatSync(join(dir, 'f2b-store.sock'));
    assert.ok(socket.isSocket(), 'the socket is a socket of its own');
    assert.equal(socket.mode & 0o777, 0o600);
    const stopped = runCli(['--insecure-db', '--db', db, 'stop']);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await daemon.stop(), 0);
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
  });

  it('a second daemon is refused even when the first one\'s pid file is gone: the socket answers', async () => {
    const { dir, db } = place();
    const first = await start(['--db', db]);
    execFileSync('rm', [join(dir, 'f2b-store.pid')]);
    const second = startDaemon(['--db', db]);
    daemons.push(second);
    await waitFor('the second daemon to give up', () => !running(second.child), 20_000);
    assert.equal(second.child.exitCode, 1, second.log());
    assert.match(second.log(), new RegExp(`another f2b-store daemon \\(pid ${first.child.pid}\\) already runs on this database`));
    assert.ok(running(first.child), 'the first one runs on');
  });

  it('stop believes only a socket of its own user: one another user made is refused, and nothing is signalled', async () => {
    const { dir, db } = place(true);
    const sleeper = bystander();
    // What another user's program would answer, given the chance: the pid of a process to kill.
    const fake: Server = createServer((socket) => socket.end(`${JSON.stringify({ ok: true, result: { pid: sleeper.pid } })}\n`));
    const path = join(dir, 'f2b-store.sock');
    await new Promise<void>((resolve) => fake.listen(path, resolve));
    try {
      execFileSync('chown', ['nobody', path]);
      const result = runCli(['--insecure-db', '--db', db, 'stop']);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`${path} is not f2b-store's control socket \\(owned by uid \\d+\\)`));
      assert.ok(running(sleeper), 'nothing was killed');
    } finally {
      fake.close();
    }
  });
});
