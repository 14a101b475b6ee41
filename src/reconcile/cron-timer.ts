import cron, { type ScheduledTask } from 'node-cron';
import { InputError } from '../core/index.js';

/** setTimeout's longest delay; a longer wait is simply cut to it and the tick comes early. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function checkSchedule(expression: string, where: string): string {
  if (!cron.validate(expression)) throw new InputError(`${where}: bad schedule "${expression}" (a node-cron expression, e.g. */10 * * * * * for every 10 s)`);
  return expression;
}

/**
 * Calls `tick` at the times a node-cron expression names. The next time is read from the wall
 * clock when arming, but the wait is a plain (monotonic) timer and each tick arms the next from
 * the wall clock of that moment. So a clock step — NTP at boot, a resumed VM — moves at most one
 * tick, where node-cron's own runner stops ticking after a step back (it waits for the wall clock
 * to catch up) and replays every missed slot after a step forward. Ticks never overlap: the next
 * is armed when one finishes.
 */
export class CronTimer {
  private readonly matcher: ScheduledTask;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(expression: string, private readonly tick: () => Promise<void>) {
    checkSchedule(expression, 'schedule');
    // Never started: node-cron only computes the next matching time here.
    this.matcher = cron.createTask(expression, () => undefined);
  }

  start(): void {
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    void this.matcher.destroy();
  }

  private arm(): void {
    if (this.stopped) return;
    const [next] = this.matcher.getNextRuns(1);
    const delay = next === undefined ? MAX_TIMER_MS : Math.min(MAX_TIMER_MS, Math.max(0, next.getTime() - Date.now()));
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.arm());
    }, delay);
  }
}
