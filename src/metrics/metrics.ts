import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BanCounts, JailSourceCount, RunKind } from '../core/index.js';

/** Where reading one log source stands: a file's unread bytes, or a journal's lag. */
export interface LogSourceState {
  readonly source: string;
  readonly behindBytes?: number;
  readonly lagSeconds?: number;
}

/** What one backend did in a run (reconcile's BackendReport, the part counted here). */
export interface BackendOutcome {
  readonly name: string;
  readonly added: number;
  readonly removed: number;
  readonly failed: readonly unknown[];
  readonly error: string | null;
}

/**
 * What a scrape reads: each a cheap read of counts other parts keep (nothing here may scan the
 * bans table). A source that throws leaves its series out of that scrape; the rest is served.
 */
export interface MetricsSources {
  readonly bans: () => BanCounts;
  /** Entries each backend holds per jail (the reconcile loop's tally). */
  readonly entries: () => readonly { readonly backend: string; readonly jail: string; readonly count: number }[];
  /** Each jail's failures counted since it started, and the addresses failing now. */
  readonly jails: () => readonly { readonly name: string; readonly totalFailed: number; readonly currentlyFailed: number }[];
  readonly logs: () => readonly LogSourceState[];
  readonly databaseBytes: () => number;
  /** Told once per scrape and source that failed. */
  readonly problem?: (what: string, error: unknown) => void;
}

/** A drift repair: a run of these kinds that changed a backend was a backend found different from the store. */
const REPAIRING: readonly RunKind[] = ['schedule', 'drift'];

const PREFIX = 'f2b_store_';

const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The daemon's Prometheus metrics: the counts other parts keep, read at each scrape, and the
 * events the daemon tells (reconcile runs, changes applied, lines read, write transactions).
 */
export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly runs;
  private readonly runSeconds;
  private readonly added;
  private readonly removed;
  private readonly repairs;
  private readonly firewallFailures;
  private readonly lines;
  private readonly transactionSeconds;
  /** Forgets the store's counts read for the scrape before. */
  private readonly newScrape: () => void;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    const read = <T>(what: string, source: () => T): T | undefined => {
      try {
        return source();
      } catch (error) {
        sources.problem?.(what, error);
        return undefined;
      }
    };
    // One read of the store's counts (or its failure) serves the series made from it in a scrape.
    let bans: { readonly counts: BanCounts | undefined } | undefined;
    this.newScrape = () => {
      bans = undefined;
    };
    const banCounts = (): BanCounts | undefined => (bans ??= { counts: read('ban counts', sources.bans) }).counts;
    const fromBans = (pick: (counts: BanCounts) => readonly JailSourceCount[], set: (labels: { jail: string; source: string }, value: number) => void): void => {
      const counts = banCounts();
      for (const { jail, source, count } of counts ? pick(counts) : []) set({ jail, source }, count);
    };
    new Gauge({
      name: `${PREFIX}active_bans`, help: 'Active bans in the database, per jail and source.', labelNames: ['jail', 'source'], registers,
      collect() {
        this.reset();
        fromBans((counts) => counts.active, (labels, value) => this.set(labels, value));
      },
    });
    new Counter({
      name: `${PREFIX}bans_total`, help: 'New active bans since the daemon started, per jail and source (an extension is none).', labelNames: ['jail', 'source'], registers,
      collect() {
        this.reset();
        fromBans((counts) => counts.banned, (labels, value) => this.inc(labels, value));
      },
    });
    new Counter({
      name: `${PREFIX}lifts_total`, help: 'Active bans ended since the daemon started, per jail, source and reason (unban or expiry).',
      labelNames: ['jail', 'source', 'reason'], registers,
      collect() {
        this.reset();
        fromBans((counts) => counts.lifted, (labels, value) => this.inc({ ...labels, reason: 'unban' }, value));
        fromBans((counts) => counts.expired, (labels, value) => this.inc({ ...labels, reason: 'expiry' }, value));
      },
    });
    new Gauge({
      name: `${PREFIX}firewall_entries`, help: 'Entries each backend holds per jail, as the daemon last brought it there.', labelNames: ['backend', 'jail'], registers,
      collect() {
        this.reset();
        for (const { backend, jail, count } of read('backend entries', sources.entries) ?? []) this.set({ backend, jail }, count);
      },
    });
    const jails = (): ReturnType<MetricsSources['jails']> => read('jail counters', sources.jails) ?? [];
    new Counter({
      name: `${PREFIX}failures_total`, help: 'Failures the jail\'s filter found since the jail started.', labelNames: ['jail'], registers,
      collect() {
        this.reset();
        for (const jail of jails()) this.inc({ jail: jail.name }, jail.totalFailed);
      },
    });
    new Gauge({
      name: `${PREFIX}failing_addresses`, help: 'Addresses with failures counted in the jail\'s findtime, not banned yet.', labelNames: ['jail'], registers,
      collect() {
        this.reset();
        for (const jail of jails()) this.set({ jail: jail.name }, jail.currentlyFailed);
      },
    });
    const logs = (): readonly LogSourceState[] => read('log sources', sources.logs) ?? [];
    new Gauge({
      name: `${PREFIX}log_behind_bytes`, help: 'Bytes of a log file written but not read yet.', labelNames: ['source'], registers,
      collect() {
        this.reset();
        for (const log of logs()) if (log.behindBytes !== undefined) this.set({ source: log.source }, log.behindBytes);
      },
    });
    new Gauge({
      name: `${PREFIX}log_lag_seconds`, help: 'How far behind the journal reading is: the age of the oldest entry waiting.', labelNames: ['source'], registers,
      collect() {
        this.reset();
        for (const log of logs()) if (log.lagSeconds !== undefined) this.set({ source: log.source }, log.lagSeconds);
      },
    });
    new Gauge({
      name: `${PREFIX}database_size_bytes`, help: 'Size of the SQLite database file.', registers,
      collect() {
        const bytes = read('database size', sources.databaseBytes);
        if (bytes !== undefined) this.set(bytes);
      },
    });
    this.lines = new Counter({ name: `${PREFIX}log_lines_read_total`, help: 'Log lines (or journal entries) read, per log source.', labelNames: ['source'], registers });
    this.transactionSeconds = new Histogram({
      name: `${PREFIX}database_transaction_duration_seconds`, help: 'How long the daemon\'s write transactions took (bans, counters and log positions of a batch of lines).',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers,
    });
    this.runs = new Counter({ name: `${PREFIX}reconcile_runs_total`, help: 'Reconcile runs, per reason.', labelNames: ['reason'], registers });
    this.runSeconds = new Histogram({
      name: `${PREFIX}reconcile_duration_seconds`, help: 'How long reconcile runs took, per reason.', labelNames: ['reason'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    this.added = new Counter({
      name: `${PREFIX}reconcile_entries_added_total`, help: 'Entries added to a backend, per reason (ban: the daemon\'s own bans) and backend.',
      labelNames: ['reason', 'backend'], registers,
    });
    this.removed = new Counter({
      name: `${PREFIX}reconcile_entries_removed_total`, help: 'Entries removed from a backend, per reason and backend.', labelNames: ['reason', 'backend'], registers,
    });
    this.repairs = new Counter({
      name: `${PREFIX}drift_repairs_total`, help: 'Times a backend was found different from the database (flushed, reloaded, edited) and repaired.',
      labelNames: ['backend'], registers,
    });
    this.firewallFailures = new Counter({
      name: `${PREFIX}firewall_failures_total`, help: 'Firewall commands that failed: a backend that could not be changed, or an entry it refused.',
      labelNames: ['backend'], registers,
    });
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which promtool's lint refuses; nodejs_active_* by type say the same.
    for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
  }

  /** A reconcile run ended. */
  ran(reason: RunKind, seconds: number, reports: readonly BackendOutcome[]): void {
    this.runs.inc({ reason });
    this.runSeconds.observe({ reason }, seconds);
    this.outcomes(reason, reports);
    for (const report of reports) {
      const changed = report.added + report.removed > 0;
      const repaired = report.error === null && (reason === 'drift' || (changed && REPAIRING.includes(reason)));
      this.repairs.inc({ backend: report.name }, repaired ? 1 : 0);
    }
  }

  /** The daemon's own bans were applied to the backends. */
  applied(reports: readonly BackendOutcome[]): void {
    this.outcomes('ban', reports);
  }

  linesRead(source: string, lines: number): void {
    if (lines > 0) this.lines.inc({ source }, lines);
  }

  transaction(seconds: number): void {
    this.transactionSeconds.observe(seconds);
  }

  /** The metrics in Prometheus's text format. */
  text(): Promise<string> {
    this.newScrape();
    return this.registry.metrics();
  }

  private outcomes(reason: string, reports: readonly BackendOutcome[]): void {
    for (const report of reports) {
      const backend = report.name;
      // Series start at 0, so a rate over them exists before the first change.
      this.added.inc({ reason, backend }, report.added);
      this.removed.inc({ reason, backend }, report.removed);
      this.firewallFailures.inc({ backend }, (report.error === null ? 0 : 1) + report.failed.length);
    }
  }
}
