import { existsSync } from 'node:fs';
import { logpathsNameAFile } from './log-pattern.js';

/** Where journald listens: while it runs, the journal holds what this system's daemons log. */
const JOURNALD_SOCKET = '/run/systemd/journal/socket';

/**
 * For a jail with `backend = auto`: read the systemd journal instead of `logpaths`, because none
 * of them names a file and journald runs here (a system that logs only to the journal). A file
 * that appears later is read from the next start or reload on.
 */
export function journalInsteadOfFiles(logpaths: readonly { readonly pattern: string; readonly tail: boolean }[], socket = JOURNALD_SOCKET): boolean {
  return existsSync(socket) && !logpathsNameAFile(logpaths);
}
