/**
 * The sshd workload of the daemon benchmarks, whatever the log source: sshd's messages, 30%
 * failures from many distinct attackers (198.18.0.0/15 and 2001:db8::/32), 70% noise, the same
 * sequence on every run, and the bans it must cause in a jail with maxretry MAXRETRY.
 */
const FAILURE_SHARE = 0.3;
/** 50,000 attackers per 1,000,000 lines: six failures each on average, skewed. */
const ATTACKERS_PER_LINE = 0.05;
export const MAXRETRY = 3;
export const BATCH_LINES = 1000;
const FIRST_PID = 10_000;
const USERS = ['root', 'admin', 'test', 'oracle', 'ubuntu', 'git', 'postgres', 'user', 'guest', 'ftpuser'];

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

export interface Workload {
  readonly lines: number;
  readonly failures: number;
  readonly attackers: number;
}

export function sshdWorkload(lines: number): Workload {
  return { lines, failures: Math.round(lines * FAILURE_SHARE), attackers: Math.round(lines * ATTACKERS_PER_LINE) };
}

/** What the benchmarks say of the lines, for their remarks. */
export const WORKLOAD_REMARK = 'failures are `Failed password` (60%), `Failed password for invalid user` (30%) '
  + 'and `Invalid user` (10%) lines; noise is disconnects and closed connections naming attackers, logins, sessions and kex errors, none of which the filter counts. '
  + 'Every attacker fails at least once; the other failures are skewed toward a few, so some attackers stay below maxretry.';

/** xorshift32: the same log on every run, so runs compare. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Attacker `i` in canonical form: every tenth in 2001:db8::/32, the others in 198.18.0.0/15. */
export function attackerAddress(i: number): string {
  const n = i + 1;
  if (i % 10 === 9) return `2001:db8:f2b:${n.toString(16)}::1`;
  return `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** One of sshd's log calls: its message, and the pid of the sshd process that made it. */
export interface SshdLine {
  readonly pid: number;
  readonly message: string;
}

/**
 * The log in batches of BATCH_LINES lines. Exactly `failures` failure lines: every attacker
 * fails at least once, the rest go mostly to a few (an attacker index from the product of two
 * uniform draws), so some attackers stay below maxretry. `failuresOf[i]` counts attacker i's
 * failures. Each line comes from a connection of its own, its pid one more than the line's before:
 * the sshd filter merges the lines of one pid into one session (`<F-MLFID>`), and a pid used
 * again would join two attackers' lines, so the bans would no longer be the expected ones.
 */
export function* sshdBatches(w: Workload, failuresOf: Uint32Array): Generator<SshdLine[]> {
  const rng = random(5);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const port = (): number => 1024 + Math.floor(rng() * 64000);
  const anyAttacker = (): number => Math.floor(w.attackers * rng() * rng());
  let linesLeft = w.lines;
  let failuresLeft = w.failures;
  let nextFirst = 0;
  let pid = FIRST_PID;
  const failure = (): string => {
    // An attacker not seen yet, as often as needed for all of them to appear by the last failure.
    const i = rng() * failuresLeft < w.attackers - nextFirst ? nextFirst++ : anyAttacker();
    failuresLeft--;
    failuresOf[i]!++;
    const ip = attackerAddress(i);
    const r = rng();
    if (r < 0.6) return `Failed password for ${pick(USERS)} from ${ip} port ${port()} ssh2`;
    if (r < 0.9) return `Failed password for invalid user ${pick(USERS)} from ${ip} port ${port()} ssh2`;
    return `Invalid user ${pick(USERS)} from ${ip} port ${port()}`;
  };
  // Noise: lines the sshd filter must reject, some of them naming attackers.
  const noise = (): string => {
    const r = rng();
    const ip = attackerAddress(anyAttacker());
    if (r < 0.15) return `Received disconnect from ${ip} port ${port()}:11: Bye Bye [preauth]`;
    if (r < 0.30) return `Disconnected from invalid user ${pick(USERS)} ${ip} port ${port()} [preauth]`;
    if (r < 0.40) return `Connection closed by ${ip} port ${port()} [preauth]`;
    if (r < 0.50) return `Accepted publickey for deploy from 10.0.${Math.floor(rng() * 256)}.${Math.floor(rng() * 256)} port ${port()} ssh2: ED25519 SHA256:q3H0t8yqVb0b1Xw2k5m9yZ1d4cS8fJ2pLr7Tn6uWvE0`;
    if (r < 0.65) return 'pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)';
    if (r < 0.80) return 'pam_unix(sshd:session): session closed for user deploy';
    return 'error: kex_exchange_identification: Connection closed by remote host';
  };
  while (linesLeft > 0) {
    const batch: SshdLine[] = [];
    for (let k = Math.min(BATCH_LINES, linesLeft); k > 0; k--) {
      const message = rng() * linesLeft < failuresLeft ? failure() : noise();
      linesLeft--;
      batch.push({ message, pid: pid++ });
    }
    yield batch;
  }
}

/**
 * The active bans must be exactly the attackers written with ≥ maxretry failures, each banned as
 * `bannedAs` says (its prefix, in a jail counting by prefix); returns how many.
 */
export function checkBans(stored: ReadonlySet<string>, failuresOf: Uint32Array, bannedAs: (address: string) => string = (address) => address): number {
  const expected = new Set<string>();
  failuresOf.forEach((n, i) => {
    if (n >= MAXRETRY) expected.add(bannedAs(attackerAddress(i)));
  });
  const missing = [...expected].filter((a) => !stored.has(a));
  const extra = [...stored].filter((a) => !expected.has(a));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(`bans: ${int(stored.size)} in the store, ${int(expected.size)} expected; missing ${int(missing.length)} `
      + `(${missing.slice(0, 3).join(', ')}), unexpected ${int(extra.length)} (${extra.slice(0, 3).join(', ')})`);
  }
  return expected.size;
}
