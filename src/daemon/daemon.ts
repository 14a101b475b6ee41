import { nowSeconds } from '../core/index.js';
import type { Backend } from '../backends/index.js';
import { ReconcileLoop, checkSchedule, type JailRules } from '../reconcile/index.js';
import type { BanStore } from '../store/index.js';
import { claimPidFile } from './pidfile.js';

export interface DaemonOptions {
  readonly store: BanStore;
  readonly backends: readonly Backend[];
  readonly schedule: string;
  readonly fullCheck: number;
  readonly pidFile: string;
  readonly rules?: JailRules;
  readonly log: (line: string) => void;
}

/**
 * Runs until SIGTERM/SIGINT: reconciles at start, then on schedule and at each expiry. Stopping
 * leaves every ban in the firewall (they are the point); `stop --flush` removes them explicitly.
 */
export async function runDaemon(options: DaemonOptions): Promise<void> {
  const { store, backends, log } = options;
  checkSchedule(options.schedule, '[reconcile] schedule');
  const release = claimPidFile(options.pidFile);
  const loop = new ReconcileLoop({ store, backends, schedule: options.schedule, fullCheck: options.fullCheck, rules: options.rules, clock: nowSeconds, log });
  const stopped = new Promise<string>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve(signal));
  });
  try {
    log(`started (pid ${process.pid}); backends: ${backends.map((b) => b.name).join(', ') || 'none'}; drift check: ${options.schedule}, full check every ${options.fullCheck} s`);
    await loop.start();
    const signal = await stopped;
    log(`${signal}: stopping; bans stay in the firewall`);
  } finally {
    loop.stop();
    release();
  }
}
