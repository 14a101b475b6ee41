import { performance } from 'node:perf_hooks';

/**
 * Node's own bootstrap on the idle 2-core machine the tests' time bounds were set on took about
 * this long; it is the same work in every process, so it shows how fast this machine is now.
 */
const REFERENCE_BOOTSTRAP_MS = 40;

/**
 * How many times slower than the reference machine this one runs (1 or more). Machines whose
 * fresh memory pages are costly (some VMs fault each one in from the host) run every process
 * start, allocation and GC several times slower, and a time bound must grow with them.
 * `F2B_TEST_SLOWNESS` sets it instead of measuring.
 */
export const SLOWNESS = slownessOfThisMachine();

function slownessOfThisMachine(): number {
  const told = Number(process.env.F2B_TEST_SLOWNESS);
  if (Number.isFinite(told) && told >= 1) return told;
  return Math.max(1, performance.nodeTiming.bootstrapComplete / REFERENCE_BOOTSTRAP_MS);
}

/** A time bound set on the reference machine, for this one. */
export function scaled(ms: number): number {
  return Math.round(ms * SLOWNESS);
}
