import type { Command } from 'commander';
import { InputError, nowSeconds } from '../../core/index.js';
import { BACKEND_CATALOG } from '../../backends/catalog.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('check')
    .description('load the whole configuration as start would, and report the first problem with its file and line')
    .option('--strict', 'treat warnings as errors (exit 2): a jail with no log file, a misspelt option, an action that cannot run, a regex only reported')
    .addHelpText('after', `
Reads f2b-store.conf/.local and every jail (jail.conf, jail.d/, jail.local), loads and compiles
each enabled jail's filter and checks its options (durations, ignoreip, bantime.formula…). A
regex that can backtrack catastrophically (a nested quantifier such as (\\w+\\s?)+, or alternatives
that match the same text under a repetition) is refused; in fail2ban's own filter files it is
only reported, on stderr.
A jail none of whose log paths names a file now is watching nothing: a warning. Where journald
runs (a system that logs only to the journal, such as a fresh Debian 12), such a jail with
backend = auto reads the systemd journal instead, through its filter's journalmatch, and check
says so after its OK line (a filter without a journalmatch keeps the warning). So are an
option of a jail file that nothing reads and that is a small edit away from one that is read
(maxrety, fitler: fail2ban takes any other key as a variable for %(name)s), a filter mode
that names nothing (sshd[mode=agressive]), and an enabled jail's action calling a program that
is not on PATH (sendmail, whois, ufw, curl). A misspelt value where the choice is closed
(enabled = ture, backend = pooling) is an error, with a did-you-mean. start logs the same
warnings.
Exit 0 when all is well (warnings on stderr), 2 with one line naming the file, line and value
otherwise, or with --strict when there were warnings. Point it at fail2ban's own tree with
--config /etc/fail2ban.`)
    .action(async (options: { strict?: boolean }, command: Command) => {
      const ctx = createContext(command);
      // Loaded here, not with the help text; from watch, the log patterns alone (not chokidar).
      const [
        { isLogJail, jailConfigDir, jailWarnings, journalInsteadNotice, loadAction, loadJails, storeConfigWarnings, watchesNothingHint }, { JailEngine }, { compileJailFilters },
        { checkSchedule }, { logpathsNameAFile }, { journalInsteadOfFiles }, { logFormatWarnings },
      ] = await Promise.all([
        import('../../config/index.js'), import('../../engine/index.js'), import('../jail-filters.js'),
        import('../../reconcile/cron-timer.js'), import('../../watch/log-pattern.js'), import('../../watch/journal-instead.js'),
        import('../log-format-probe.js'),
      ]);
      const config = ctx.config();
      checkSchedule(config.schedule, '[reconcile] schedule');
      const dir = jailConfigDir(ctx.configDir);
      const jails = loadJails(dir, BACKEND_CATALOG, { journalInstead: journalInsteadOfFiles });
      const enabled = jails.filter((jail) => jail.enabled);
      const warnings = [
        ...storeConfigWarnings(ctx.configDir), ...compileJailFilters(enabled.filter(isLogJail)), ...logFormatWarnings(enabled.filter(isLogJail)),
      ];
      for (const jail of enabled) {
        if (jail.journal !== undefined || jail.logpaths.length === 0) continue;
        if (logpathsNameAFile(jail.logpaths)) continue;
        warnings.push(`jail ${jail.name}: no log file matches ${jail.logpaths.map((p) => p.pattern).join(', ')}: it watches nothing until one appears `
          + watchesNothingHint(jail.logformat));
      }
      for (const jail of enabled) {
        new JailEngine({ ...jail, jail: jail.name }, { previousBans: () => 0, now: nowSeconds });
        for (const action of jail.actions) loadAction(action, jail);
      }
      warnings.push(...jailWarnings(dir, jails));
      if (options.strict && warnings.length > 0) {
        throw new InputError(`${warnings[0]}${warnings.length > 1 ? ` (and ${warnings.length - 1} more warning${warnings.length > 2 ? 's' : ''})` : ''}; --strict refuses warnings`);
      }
      for (const warning of warnings) console.error(`f2b-store: warning: ${warning}`);
      const notices = enabled.flatMap((jail) => (jail.journalInsteadOf ? [journalInsteadNotice(jail.name, jail.journalInsteadOf)] : []));
      if (ctx.json) {
        printJson({ ok: true, configDir: dir, jails: jails.map((j) => ({ name: j.name, enabled: j.enabled })), warnings, notices });
        return;
      }
      process.stdout.write(`configuration OK (${dir}): ${jails.length} jails, ${enabled.length} enabled`
        + `${enabled.length > 0 ? `: ${enabled.map((j) => j.name).join(', ')}` : ''}\n${notices.map((notice) => `${notice}\n`).join('')}`);
    });
}
