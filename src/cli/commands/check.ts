import type { Command } from 'commander';
import { nowSeconds } from '../../core/index.js';
import { jailConfigDir, loadAction, loadJails } from '../../config/index.js';
import { BACKEND_CATALOG } from '../../backends/index.js';
import { checkSchedule } from '../../reconcile/index.js';
import { createContext } from '../context.js';
import { printJson } from '../output.js';

export function register(program: Command): void {
  program
    .command('check')
    .description('load the whole configuration as start would, and report the first problem with its file and line')
    .addHelpText('after', `
Reads f2b-store.conf/.local and every jail (jail.conf, jail.d/, jail.local), loads and compiles
each enabled jail's filter and checks its options (durations, ignoreip, bantime.formula…). A
regex that can backtrack catastrophically (a nested quantifier such as (\\w+\\s?)+, or alternatives
that match the same text under a repetition) is refused; in fail2ban's own filter files it is
only reported, on stderr.
Exit 0 when all is well, 2 with one line naming the file, line and value otherwise. Point it at
fail2ban's own tree with --config /etc/fail2ban.`)
    .action(async (_options: unknown, command: Command) => {
      const ctx = createContext(command);
      const [{ JailEngine }, { compileJailFilters }] = await Promise.all([import('../../engine/index.js'), import('../jail-filters.js')]);
      const config = ctx.config();
      checkSchedule(config.schedule, '[reconcile] schedule');
      const dir = jailConfigDir(ctx.configDir);
      const jails = loadJails(dir, BACKEND_CATALOG);
      const enabled = jails.filter((jail) => jail.enabled);
      const warnings = compileJailFilters(enabled);
      for (const jail of enabled) {
        new JailEngine({ ...jail, jail: jail.name }, { previousBans: () => 0, now: nowSeconds });
        for (const action of jail.actions) loadAction(action, jail);
      }
      for (const warning of warnings) console.error(`f2b-store: warning: ${warning}`);
      if (ctx.json) {
        printJson({ ok: true, configDir: dir, jails: jails.map((j) => ({ name: j.name, enabled: j.enabled })) });
        return;
      }
      process.stdout.write(`configuration OK (${dir}): ${jails.length} jails, ${enabled.length} enabled`
        + `${enabled.length > 0 ? `: ${enabled.map((j) => j.name).join(', ')}` : ''}\n`);
    });
}
