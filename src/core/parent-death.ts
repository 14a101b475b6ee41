/**
 * `argv` run so that it is ended (SIGTERM) when this process dies, even by SIGKILL: util-linux's
 * `setpriv --pdeathsig` asks the kernel to signal it. A long-running follower (`nft monitor`,
 * `journalctl --follow`) left behind would otherwise run for ever.
 */
export function endedWithParent(argv: readonly string[]): string[] {
  return ['setpriv', '--pdeathsig', 'TERM', '--', ...argv];
}

/** setpriv's exit status when the command it was to run does not exist (util-linux's EX_EXEC_ENOENT). */
export const COMMAND_NOT_FOUND = 127;
