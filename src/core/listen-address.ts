import { isIP } from 'node:net';
import { InputError } from './errors.js';

/** Where a server listens: a TCP host and port, or a unix socket path. */
export type ListenAddress = { readonly host: string; readonly port: number } | { readonly path: string };

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

/**
 * Parses `host:port` (an IPv6 host in brackets: `[::1]:9191`) or an absolute socket path;
 * `where` names the setting for the one-line error.
 */
export function parseListenAddress(text: string, where: string): ListenAddress {
  if (text.startsWith('/')) return { path: text };
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  const hostOk = host !== undefined && (match?.[1] === undefined ? isIP(host) === 4 || HOST_NAME.test(host) : isIP(host) === 6);
  if (!hostOk || port < 1 || port > 65535) {
    throw new InputError(`${where}: "${text}" is not host:port or a socket path (e.g. 127.0.0.1:9191, [::1]:9191, /run/f2b-store/metrics.sock)`);
  }
  return { host, port };
}

/** How a listen address reads in a log line. */
export function describeListenAddress(listen: ListenAddress): string {
  if ('path' in listen) return listen.path;
  return isIP(listen.host) === 6 ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
}
