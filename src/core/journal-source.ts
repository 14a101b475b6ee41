/**
 * Which journal a `backend = systemd` jail reads, from fail2ban's backend options
 * `systemd[journalpath=…, journalfiles=…, journalflags=…, namespace=…]`. With none of them:
 * the system journal, as fail2ban opens it by default.
 */
export interface JournalSource {
  /** A journal directory (with or without machine-id subdirectories). */
  readonly path?: string;
  /** Journal files, globs allowed. Never given together with `path`. */
  readonly files?: readonly string[];
  /** sd_journal_open's flags, as fail2ban's `journalflags` (JOURNAL_FLAGS); its default is SYSTEM. */
  readonly flags?: number;
  /** A journal namespace (journald's `LogNamespace=`). */
  readonly namespace?: string;
}

/** The sd_journal_open flags fail2ban's `journalflags` may combine. */
export const JOURNAL_FLAGS = { localOnly: 1, runtimeOnly: 2, system: 4, currentUser: 8 } as const;

/**
 * A name for a journal source: `system`, or what is read (`directory:/var/log/journal/remote`,
 * `files:/j/a.journal /j/b*.journal`), with the flags and namespace when given. The key a
 * source's cursor is stored under, and what status shows.
 */
export function journalSourceName(source: JournalSource): string {
  const where = source.path !== undefined ? `directory:${source.path}` : source.files !== undefined ? `files:${source.files.join(' ')}` : 'system';
  return [where, ...(source.flags === undefined ? [] : [`flags=${source.flags}`]), ...(source.namespace === undefined ? [] : [`namespace=${source.namespace}`])].join(' ');
}
