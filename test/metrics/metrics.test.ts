import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DaemonMetrics, serveMetrics, type MetricsSources } from '../../src/metrics/index.js';
import { tempDir } from '../helpers/cli.js';

const sources = (overrides: Partial<MetricsSources> = {}): MetricsSources => ({
  bans: () => ({
    active: [{ jail: 'sshd', source: 'filter', count: 120 }, { jail: 'manual', source: 'manual', count: 3 }],
    banned: [{ jail: 'sshd', source: 'filter', count: 7 }],
    lifted: [{ jail: 'sshd', source: 'filter', count: 2 }],
    expired: [{ jail: 'sshd', source: 'filter', count: 4 }],
  }),
  entries: () => [{ backend: 'nftables', jail: 'sshd', count: 120 }],
  jails: () => [{ name: 'sshd', totalFailed: 35, currentlyFailed: 6 }],
  logs: () => [{ source: '/var/log/auth.log', behindBytes: 512 }, { source: 'journal:system', lagSeconds: 1.5 }],
  databaseBytes: () => 4096,
  ...overrides,
});

/** The value of one series in Prometheus's text format, or undefined when it is not there. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the daemon\'s metrics', () => {
  it('serves the store\'s counts, the jails\', the logs\' and the database\'s as Prometheus series', async () => {
    const text = await new DaemonMetrics(sources()).text();
    const expected: Record<string, number> = {
      'f2b_store_active_bans{jail="sshd",source="filter"}': 120,
      'f2b_store_active_bans{jail="manual",source="manual"}': 3,
      'f2b_store_bans_total{jail="sshd",source="filter"}': 7,
      'f2b_store_lifts_total{jail="sshd",source="filter",reason="unban"}': 2,
      'f2b_store_lifts_total{jail="sshd",source="filter",reason="expiry"}': 4,
      'f2b_store_firewall_entries{backend="nftables",jail="sshd"}': 120,
      'f2b_store_failures_total{jail="sshd"}': 35,
      'f2b_store_failing_addresses{jail="sshd"}': 6,
      'f2b_store_log_behind_bytes{source="/var/log/auth.log"}': 512,
      'f2b_store_log_lag_seconds{source="journal:system"}': 1.5,
      f2b_store_database_size_bytes: 4096,
    };
    for (const [series, n] of Object.entries(expected)) assert.equal(value(text, series), n, series);
    assert.ok(value(text, 'process_cpu_seconds_total') !== undefined, 'process metrics are there');
  });

  it('counts reconcile runs by reason, entries added and removed, drift repairs and firewall failures', async () => {
    const metrics = new DaemonMetrics(sources());
    const ok = { name: 'nftables', added: 3, removed: 1, failed: [], error: null };
    metrics.ran('start', 0.2, [ok]);
    metrics.ran('schedule', 0.1, [{ ...ok, added: 0, removed: 0 }]);
    metrics.ran('schedule', 0.1, [{ ...ok, added: 5, removed: 0 }]);
    metrics.ran('drift', 0.05, [ok, { name: 'ipset', added: 0, removed: 0, failed: [], error: 'ipset restore: exit 1' }]);
    metrics.applied([{ name: 'nftables', added: 2, removed: 0, failed: [{}, {}], error: null }]);
    metrics.linesRead('/var/log/auth.log', 40);
    metrics.linesRead('/var/log/auth.log', 2);
    metrics.transaction(0.003);
    const text = await metrics.text();
    assert.equal(value(text, 'f2b_store_reconcile_runs_total{reason="schedule"}'), 2);
    assert.equal(value(text, 'f2b_store_reconcile_duration_seconds_count{reason="start"}'), 1);
    assert.equal(value(text, 'f2b_store_reconcile_entries_added_total{reason="schedule",backend="nftables"}'), 5);
    assert.equal(value(text, 'f2b_store_reconcile_entries_added_total{reason="ban",backend="nftables"}'), 2);
    assert.equal(value(text, 'f2b_store_reconcile_entries_removed_total{reason="start",backend="nftables"}'), 1);
    // The start is no repair, nor a scheduled check that found nothing, nor a drift run that failed.
    assert.equal(value(text, 'f2b_store_drift_repairs_total{backend="nftables"}'), 2);
    assert.equal(value(text, 'f2b_store_drift_repairs_total{backend="ipset"}'), 0);
    assert.equal(value(text, 'f2b_store_firewall_failures_total{backend="ipset"}'), 1);
    assert.equal(value(text, 'f2b_store_firewall_failures_total{backend="nftables"}'), 2);
    assert.equal(value(text, 'f2b_store_log_lines_read_total{source="/var/log/auth.log"}'), 42);
    assert.equal(value(text, 'f2b_store_database_transaction_duration_seconds_count'), 1);
  });

  it('reads the store once per scrape, and a source that fails leaves only its own series out', async () => {
    let reads = 0;
    const told: string[] = [];
    const metrics = new DaemonMetrics(sources({
      bans: () => {
        reads++;
        throw new Error('database disk image is malformed');
      },
      problem: (what, error) => told.push(`${what}: ${(error as Error).message}`),
    }));
    const text = await metrics.text();
    assert.equal(reads, 1);
    assert.deepEqual(told, ['ban counts: database disk image is malformed']);
    assert.equal(value(text, 'f2b_store_active_bans{jail="sshd",source="filter"}'), undefined);
    assert.equal(value(text, 'f2b_store_failures_total{jail="sshd"}'), 35);
    await metrics.text();
    assert.equal(reads, 2);
  });

  it('a scrape passes promtool check metrics with no lint problem', async () => {
    const metrics = new DaemonMetrics(sources());
    metrics.ran('start', 0.2, [{ name: 'nftables', added: 3, removed: 0, failed: [], error: null }]);
    const out = execFileSync('promtool', ['check', 'metrics'], { input: await metrics.text(), encoding: 'utf8' });
    assert.equal(out.trim(), '');
  });
});

/** GET `path` from the server at `at` (a port on 127.0.0.1, or a socket path). */
function get(at: number | string, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const target = typeof at === 'number' ? { host: '127.0.0.1', port: at } : { socketPath: at };
    request({ ...target, path }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => {
        resolve({ status: response.statusCode ?? 0, body, type: String(response.headers['content-type']) });
      });
    }).on('error', reject).end();
  });
}

describe('serving /metrics', () => {
  let tmp: ReturnType<typeof tempDir>;
  const lines: string[] = [];
  beforeEach(() => { tmp = tempDir(); });
  afterEach(() => tmp.cleanup());

  it('on a TCP port: /metrics in the text format, anything else 404', async () => {
    const server = await serveMetrics({ host: '127.0.0.1', port: 0 }, new DaemonMetrics(sources()), (line) => lines.push(line));
    try {
      const address = server.address();
      assert.ok(address !== null && typeof address === 'object');
      const metrics = await get(address.port, '/metrics');
      assert.equal(metrics.status, 200);
      assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
      assert.match(metrics.body, /^f2b_store_active_bans\{jail="sshd",source="filter"\} 120$/m);
      assert.equal((await get(address.port, '/')).status, 404);
    } finally {
      server.close();
    }
  });

  it('on a unix socket, replacing a stale one, but never a file of another kind', async () => {
    const path = join(tmp.dir, 'metrics.sock');
    const metrics = new DaemonMetrics(sources());
    // A daemon killed with -9 leaves its socket behind: a process bound it and ended.
    execFileSync('python3', ['-c', 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
    assert.ok(lstatSync(path).isSocket());
    const server = await serveMetrics({ path }, metrics, () => undefined);
    try {
      assert.equal((await get(path, '/metrics')).status, 200);
    } finally {
      server.close();
    }
    const file = join(tmp.dir, 'notes.txt');
    writeFileSync(file, 'keep me\n');
    await assert.rejects(serveMetrics({ path: file }, metrics, () => undefined), /\[metrics\] listen: .*notes\.txt exists and is not a socket/);
  });

  it('a port already taken is a one-line error naming it', async () => {
    const metrics = new DaemonMetrics(sources());
    const first = await serveMetrics({ host: '127.0.0.1', port: 0 }, metrics, () => undefined);
    try {
      const address = first.address();
      assert.ok(address !== null && typeof address === 'object');
      await assert.rejects(serveMetrics({ host: '127.0.0.1', port: address.port }, metrics, () => undefined),
        new RegExp(`\\[metrics\\] listen: cannot listen on 127\\.0\\.0\\.1:${address.port}: .*EADDRINUSE`));
    } finally {
      first.close();
    }
  });
});
