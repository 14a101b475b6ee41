import { askDaemon, controlSocketFor } from '../daemon/control-socket.js';

/**
 * Tells a running daemon that this process wrote bans, so it takes them in (and its fleet pushes
 * them) now rather than at its next drift tick. Best effort: that tick takes them in anyway, so
 * no daemon, an older one that refuses the request, or a slow answer changes nothing.
 */
export async function tellDaemonChanged(dbPath: string): Promise<void> {
  await askDaemon(controlSocketFor(dbPath), { command: 'changed' }, 1000).catch(() => undefined);
}
