/**
 * Runs the fail2ban restore anchor alone:
 *   node --import tsx bench/fail2ban-restore-main.ts [COUNT]     (default 10,000; needs root)
 * Prints progress to stderr and the result as JSON to stdout.
 */
import { measureFail2banRestore } from './fail2ban-restore.js';

const count = Number(process.argv[2] ?? 10_000);
let lastReport = -Infinity;
const t0 = performance.now();
const stamp = (): string => `[${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s]`;

try {
  const result = await measureFail2banRestore(count, {
    log: (line) => console.error(`${stamp()} ${line}`),
    onProgress: (entries, seconds) => {
      if (seconds - lastReport >= 5) {
        lastReport = seconds;
        console.error(`${stamp()}   ${seconds.toFixed(1)} s after start: ${entries.toLocaleString('en-US')} of ${count.toLocaleString('en-US')} in the ipset`);
      }
    },
  });
  const perBan = (result.seconds / Math.max(result.restored, 1)) * 1000;
  console.error(
    `fail2ban ${result.fail2banVersion}: ${result.restored.toLocaleString('en-US')} of ${result.count.toLocaleString('en-US')} bans restored in ${result.seconds.toFixed(2)} s (${perBan.toFixed(2)} ms per ban)${result.restored < result.count ? ' — TIMED OUT' : ''}`,
  );
  console.log(JSON.stringify(result));
  if (result.restored < result.count) process.exitCode = 1;
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
}
