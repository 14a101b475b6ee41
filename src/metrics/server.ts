import { lstatSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { describeListenAddress, messageOf, OperationError, type ListenAddress, type Log } from '../core/index.js';
import type { DaemonMetrics } from './metrics.js';

/**
 * Serves GET /metrics (Prometheus's text format) at `listen`; anything else is 404. A socket
 * path may only replace a stale socket, never another kind of file.
 */
export async function serveMetrics(listen: ListenAddress, metrics: DaemonMetrics, log: Log): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('f2b-store serves /metrics only\n');
      return;
    }
    metrics.text().then((text) => {
      response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(request.method === 'HEAD' ? undefined : text);
    }, (error: unknown) => {
      log(`metrics: a scrape failed: ${messageOf(error)}`, 'error');
      response.writeHead(500, { 'content-type': 'text/plain' }).end('f2b-store could not read its metrics; the daemon log says why\n');
    });
  });
  if ('path' in listen) {
    const found = lstatSync(listen.path, { throwIfNoEntry: false });
    if (found && !found.isSocket()) throw new OperationError(`[metrics] listen: ${listen.path} exists and is not a socket: choose another path or remove it`);
    if (found) rmSync(listen.path);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new OperationError(`[metrics] listen: cannot listen on ${describeListenAddress(listen)}: ${messageOf(error)}`, { cause: error })));
    if ('path' in listen) server.listen(listen.path, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  log(`metrics: serving http://${'path' in listen ? `unix:${listen.path}:` : describeListenAddress(listen)}/metrics`);
  return server;
}
