import { chmodSync, rmSync } from 'node:fs';
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
  /** An address was unbanned by hand: its failure counters start afresh. */
  | { readonly command: 'forget'; readonly address: string };

/** Requests are one JSON line; a request larger than this is refused. */
const MAX_REQUEST = 64 * 1024;

/**
 * Serves the control socket (mode 0600: root only): one JSON request line per connection, one
 * JSON answer line `{"ok":true,"result":…}` or `{"ok":false,"error":…}`. A stale socket file
 * from a crashed daemon is replaced (the pid file already guarantees one daemon per database).
 */
export async function serveControl(path: string, handle: (request: ControlRequest) => Promise<unknown>): Promise<Server> {
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
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

function parseRequest(line: string): ControlRequest {
  const value = JSON.parse(line) as { command?: unknown; address?: unknown };
  if (value.command === 'status') return { command: 'status' };
  if (value.command === 'forget' && typeof value.address === 'string') return { command: 'forget', address: value.address };
  throw new Error(`unknown request: ${line.slice(0, 100)}`);
}

/**
 * Asks the daemon listening on `path`; undefined when none listens (no socket, or a stale one).
 * A daemon that answers with an error, or not within `timeoutMs`, is an OperationError.
 */
export function askDaemon(path: string, request: ControlRequest, timeoutMs = 2_000): Promise<unknown> {
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
