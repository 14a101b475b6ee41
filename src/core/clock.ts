/** The one place that reads the wall clock; everything else takes `now` (epoch seconds) as a parameter. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Milliseconds on the monotonic clock, for intervals and timeouts: it never steps when the wall
 * clock does (NTP at boot, a resumed VM, an operator's `date -s`). Wall time is for expiries only.
 */
export function monotonicMs(): number {
  // The global, which loads perf_hooks at its first use (the daemon's), not at every command's start.
  return performance.now();
}
