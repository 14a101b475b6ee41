import { after, before } from 'node:test';

/**
 * Runs the enclosing suite's tests in time zone `tz` and puts the zone back after them. The
 * module tests share processes (test/helpers/unit-groups.ts), so a file must not set TZ for the others:
 * call this first in each top-level describe whose tests read or write local times.
 */
export function inTimeZone(tz: string): void {
  let saved: string | undefined;
  before(() => {
    saved = process.env.TZ;
    process.env.TZ = tz;
  });
  after(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
}
