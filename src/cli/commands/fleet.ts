import type { Command } from 'commander';
import type { FleetConfig } from '../../config/index.js';
import { InputError, isoTime } from '../../core/index.js';
import type { FleetStatus } from '../../fleet/index.js';
import { createContext, type Context } from '../context.js';
import { printJson } from '../output.js';

function fleetConfig(ctx: Context): FleetConfig {
  const config = ctx.config().fleet;
  if (config === undefined) {
    throw new InputError(`no [fleet] in ${ctx.configDir}/f2b-store.conf: add [fleet] url = postgresql://ROLE@HOST/DB (see README, Fleet)`);
  }
  return config;
}

const when = (date: Date | null): string => (date === null ? 'never' : isoTime(Math.floor(date.getTime() / 1000)));

function printStatus(status: FleetStatus): void {
  const lines = [
    `fleet: ${status.fleet}; this host: ${status.node}`,
    status.reachable ? `PostgreSQL: reachable (${status.latencyMs} ms)` : `PostgreSQL: unreachable: ${status.error}`,
    `push backlog: ${status.pushBacklog} change${status.pushBacklog === 1 ? '' : 's'}`,
    status.pullLag === null
      ? `pull lag: ${status.pulledUpTo === null ? 'never pulled' : 'unknown'}`
      : `pull lag: ${status.pullLag.events} event${status.pullLag.events === 1 ? '' : 's'} (${status.pullLag.seconds} s)`,
  ];
  if (status.reachable) lines.push(`hosts: ${status.hosts.length}`);
  for (const host of status.hosts) {
    lines.push(`  ${host.node}: last seen ${when(host.lastSeen)}, last event ${when(host.lastEvent)}, ${host.events} events, `
      + `pushed up to #${host.pushedSeq}, pulled up to #${host.pulledId}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function register(program: Command): void {
  const fleet = program.command('fleet').description('share bans with other hosts through PostgreSQL ([fleet] in f2b-store.conf)');
  fleet
    .command('init')
    .description('create or upgrade the fleet\'s tables in PostgreSQL (the daemon does it too; for a DBA who runs it by hand)')
    .action(async (_options: unknown, command: Command) => {
      const ctx = createContext(command);
      const config = fleetConfig(ctx);
      const { connect, fleetName, migrateFleet } = await import('../../fleet/index.js');
      const client = await connect(config);
      try {
        const report = await migrateFleet(client, config.schema);
        if (ctx.json) printJson(report);
        else if (report.applied.length === 0) process.stdout.write(`${fleetName(config)}: the fleet's tables are up to date (version ${report.to})\n`);
        else process.stdout.write(`${fleetName(config)}: version ${report.from} → ${report.to} (${report.applied.join(', ')})\n`);
      } finally {
        await client.end();
      }
    });
  fleet
    .command('forget')
    .description('forget a host that left the fleet: pruning no longer waits for it to pull (its events stay)')
    .argument('<node>', 'the host\'s node name, as fleet status lists it')
    .addHelpText('after', `
Events are deleted only once every host known to the fleet has pulled them, so a host that left
for good holds that back until it is forgotten ([fleet] forgetafter does it for hosts unseen that
long). A forgotten host that comes back loads the fleet's active bans again, as a new one does,
and drops the fleet bans it holds that were lifted meanwhile.

Example:
  f2b-store fleet forget mail2`)
    .action(async (node: string, _options: unknown, command: Command) => {
      const ctx = createContext(command);
      const config = fleetConfig(ctx);
      if (node === config.node) throw new InputError(`"${node}" is this host: run fleet forget on another host of the fleet`);
      const { connect, fleetName, FleetEvents } = await import('../../fleet/index.js');
      const client = await connect(config);
      try {
        const forgotten = await new FleetEvents(client, config.schema).forget(node);
        if (!forgotten) throw new InputError(`no host "${node}" in the fleet ${fleetName(config)}: fleet status lists them`);
        if (ctx.json) printJson({ forgotten: node });
        else process.stdout.write(`${fleetName(config)}: forgot ${node}\n`);
      } finally {
        await client.end();
      }
    });
  fleet
    .command('status')
    .description('hosts seen, the last event from each, this host\'s push backlog and pull lag, whether PostgreSQL answers')
    .action(async (_options: unknown, command: Command) => {
      const ctx = createContext(command);
      const config = fleetConfig(ctx);
      const { fleetStatus } = await import('../../fleet/index.js');
      const status = await fleetStatus(config, await ctx.store(), ctx.now);
      if (!ctx.json) {
        printStatus(status);
        return;
      }
      printJson({
        ...status,
        hosts: status.hosts.map((host) => ({
          ...host, firstSeen: when(host.firstSeen), lastSeen: when(host.lastSeen), lastPush: host.lastPush && when(host.lastPush),
          lastPull: host.lastPull && when(host.lastPull), lastEvent: host.lastEvent && when(host.lastEvent),
        })),
      });
    });
}
