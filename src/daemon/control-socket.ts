import { lstatSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { messageOf, OperationError } from '../core/index.js';

/** The daemon's control socket lives beside its database (a 0700 directory), like its pid file. */
export function controlSocketFor(dbPath: string): string {
  return join(dirname(dbPath), 'f2b-store.sock');
}

/** What the CLI asks a running daemon. */
export type ControlRequest =
  | { readonly command: 'status' }
  /** Which process answers: `{"pid": N}`. */
  | { readonly command: 'pid' }
  /** Reload the jails, as SIGHUP does, and say how it went: a ReloadResult. */
  | { readonly command: 'reload' }
  /** Addresses were unbanned by hand: their failure counters start afresh. */
  | { readonly command: 'forget'; readonly addresses: readonly string[] }
  /** Another process wrote bans (ban, import): take them in, and push them to the fleet, now rather than at the next tick. */
  | { readonly command: 'changed' };

/** Addresses per forget request: well inside MAX_REQUEST even for the longest IPv6 texts. */
export const FORGET_BATCH = 1000;

/** What is at the control socket's name is not a socket of the running user's: never believed. */
export class ForeignSocketError extends OperationError {}

/** Requests are one JSON line; a request larger than this is refused. */
const MAX_REQUEST = 64 * 1024;

/**
 * Serves the control socket (mode 0600: root only): one JSON request line per connection, one
 * JSON answer line `{"ok":true,"result":…}` or `{"ok":false,"error":…}`. A stale socket file
 * from a crashed daemon is replaced (the caller made sure no daemon answers on it).
 */
export async function serveControl(path: string, handle: (request: ControlRequest) => Promise<unknown>): Promise<Server> {
  // unlink removes whatever is at the name (a symlink itself, never its target).
  rmSync(path, { force: true });
  const server = createServer((socket) => {
    let input = '';
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: string) => {
      input += chunk;
      if (input.length > MAX_REQUEST) {
        socket.end(`${JSON.stringify({ ok: false, error: 'request too large' })}\n`);
        return;
      }
      const end = input.indexOf('\n');
      if (end === -1) return;
      const line = input.slice(0, end);
      socket.pause();
      void (async () => {
        let answer: unknown;
        try {
          answer = { ok: true, result: await handle(parseRequest(line)) };
        } catch (error) {
          answer = { ok: false, error: messageOf(error) };
        }
        socket.end(`${JSON.stringify(answer)}\n`);
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // The socket is made 0600 as it is bound (listen binds at once): a chmod after would follow
    // a symlink swapped in meanwhile.
    const umask = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(umask);
    }
  });
  return server;
}

function parseRequest(line: string): ControlRequest {
  const value = JSON.parse(line) as { command?: unknown; address?: unknown; addresses?: unknown };
  if (value.command === 'status') return { command: 'status' };
  if (value.command === 'pid') return { command: 'pid' };
  if (value.command === 'reload') return { command: 'reload' };
  if (value.command === 'changed') return { command: 'changed' };
  // `address` alone: what an f2b-store of before several addresses per unban sends.
  if (value.command === 'forget' && typeof value.address === 'string') return { command: 'forget', addresses: [value.address] };
  if (value.command === 'forget' && Array.isArray(value.addresses) && value.addresses.every((a) => typeof a === 'string')) {
    return { command: 'forget', addresses: value.addresses as string[] };
  }
  throw new Error(`unknown request: ${line.slice(0, 100)}`);
}

/**
 * Asks the daemon listening on `path`; undefined when none listens (no socket, or a stale one).
 * A daemon that answers with an error, or not within `timeoutMs`, is an OperationError, and so is
 * a socket the running user does not own: only our own daemon is believed.
 */
export function askDaemon(path: string, request: ControlRequest, timeoutMs = 2_000): Promise<unknown> {
  const found = lstatSync(path, { throwIfNoEntry: false });
  if (found === undefined) return Promise.resolve(undefined);
  const uid = process.geteuid?.() ?? 0;
  if (!found.isSocket() || found.uid !== uid) {
    return Promise.reject(new ForeignSocketError(`${path} is not f2b-store's control socket (${found.isSocket() ? `owned by uid ${found.uid}` : 'not a socket'}): `
      + 'remove it, and check who writes to its directory'));
  }
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let output = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new OperationError(`the daemon did not answer on ${path} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => { output += chunk; });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') resolve(undefined);
      else reject(new OperationError(`talking to the daemon on ${path}: ${error.message}`, { cause: error }));
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        const answer = JSON.parse(output) as { ok: boolean; result?: unknown; error?: string };
        if (answer.ok) resolve(answer.result);
        else reject(new OperationError(`the daemon refused ${request.command}: ${answer.error ?? 'no reason given'}`));
      } catch {
        reject(new OperationError(`the daemon on ${path} answered something that is not JSON: ${output.slice(0, 100)}`));
      }
    });
  });
}

/** The pid of the daemon answering on `path`, or undefined when none does. */
export async function daemonPid(path: string): Promise<number | undefined> {
  const answer = await askDaemon(path, { command: 'pid' }) as { pid?: unknown } | undefined;
  if (answer === undefined) return undefined;
  const pid = answer.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) throw new OperationError(`the daemon on ${path} gave no pid: ${JSON.stringify(answer)}`);
  return pid;
}
