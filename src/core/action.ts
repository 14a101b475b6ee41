/** The commands fail2ban runs for an action.d action; '' means nothing to run. */
export const ACTION_COMMANDS = [
  'actionstart', 'actionstop', 'actioncheck', 'actionrepair', 'actionban', 'actionunban', 'actionprolong', 'actionflush',
] as const;
export type ActionCommand = (typeof ACTION_COMMANDS)[number];
/** An action's shell scripts for one family, static tags substituted. */
export type ActionScripts = Readonly<Record<ActionCommand, string>>;

export type ActionFamily = 'inet4' | 'inet6';

/**
 * One action.d action as one jail runs it (config loads it, a backend runs it): shell scripts with
 * every static tag substituted; the tags of a ban (`<ip>`, `<matches>`, `<F-USER>`…) are left for run time.
 */
export interface ActionDefinition {
  /** As written in the jail's `action =`. */
  readonly name: string;
  /** fail2ban's `<actname>`: the action's name within its jail. */
  readonly actname: string;
  /** The action's file (its includes and `.local` are read too). */
  readonly file: string;
  /** The file has `[Init?family=…]` sections: each family has its own commands and start. */
  readonly perFamily: boolean;
  /** actionstart runs at the first ban of a family instead of at start (fail2ban's `actionstart_on_demand`). */
  readonly startOnDemand: boolean;
  /**
   * The scripts per address family. Without `perFamily` both are the same, and `<family>` is left
   * for run time (the address's family for a ban, empty for start and stop), as in fail2ban.
   */
  readonly commands: Readonly<Record<ActionFamily, ActionScripts>>;
  /** Seconds a command may run before its process group is killed. */
  readonly timeout: number;
  /** Bans the action already had when it was (re)started are not replayed to it. */
  readonly norestored: boolean;
  /** A failed unban may run actionrepair (fail2ban's `actionrepair_on_unban`). */
  readonly repairOnUnban: boolean;
  /** The jail's ban time in seconds, -1 = permanent: `<bantime>` without a ban. */
  readonly bantime: number;
}
