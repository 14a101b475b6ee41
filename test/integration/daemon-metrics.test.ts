import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../helpers/daemon.js';
import { freePort, startPrometheus, type PrometheusProcess, type PromSeries } from '../helpers/prometheus.js';
import { sshdDaemon, type SshdDaemon } from '../helpers/sshd-daemon.js';

const DASHBOARD = new URL('../../contrib/grafana/f2b-store.json', import.meta.url);

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
}

interface Dashboard {
  readonly __inputs: readonly { readonly name: string; readonly type: string; readonly pluginId: string }[];
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly query: { readonly query: string } }[] };
}

/** A panel's expression as Grafana sends it, with every template variable given what "All" gives. */
function asSent(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replaceAll('$instance', '.*').replaceAll('$jail', '.*');
}

describe('metrics: a real Prometheus scraping the daemon (nftables in a namespace), and every dashboard panel\'s query', () => {
  let s: SshdDaemon;
  let prometheus: PrometheusProcess;
  let metricsUrl: string;
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

  before(async () => {
    s = sshdDaemon();
    const port = await freePort();
    appendFileSync(join(s.config, 'f2b-store.conf'), `[metrics]\nlisten = 127.0.0.1:${port}\n`);
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    prometheus = await startPrometheus([`127.0.0.1:${port}`]);
    await s.start();
    // Bans from the log the daemon tails, a ban and an unban by the CLI.
    s.fail('203.0.113.10', 3);
    s.fail('203.0.113.11', 1);
    await waitFor('the attacker banned in nftables', () => s.inTable('203.0.113.10'), 30_000);
    for (const args of [['ban', '198.51.100.20'], ['ban', '198.51.100.21'], ['unban', '198.51.100.21']]) {
      const result = s.cli(...args);
      assert.equal(result.code, 0, result.stderr);
    }
  });
  after(async () => {
    await prometheus?.stop();
    await s?.cleanup();
  });

  it('the dashboard is importable as is: the datasource is an input, every panel uses it', () => {
    assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.type, i.pluginId]), [['DS_PROMETHEUS', 'datasource', 'prometheus']]);
    const text = readFileSync(DASHBOARD, 'utf8');
    assert.ok(!/"uid":\s*"(?!\$\{DS_PROMETHEUS\}|f2b-store")/.test(text), 'no datasource uid but the input');
    assert.ok(dashboard.panels.every((panel) => (panel.targets ?? []).length > 0));
  });

  it('serves what happened: the bans by source, the lift, the firewall\'s entries, the failures and the log read', async () => {
    // The store's counts have the unban as soon as it is written; the firewall's entries once the daemon took it in.
    const scrape = await scrapeUntil('the unban counted and taken in', (text) => /^f2b_store_lifts_total\{jail="manual",source="manual",reason="unban"\} 1$/m.test(text)
      && /^f2b_store_firewall_entries\{backend="nftables",jail="manual"\} 1$/m.test(text));
    const series = (name: string): number | undefined => {
      const line = scrape.split('\n').find((l) => l.startsWith(`${name} `));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    };
    assert.equal(series('f2b_store_active_bans{jail="sshd",source="filter"}'), 1);
    assert.equal(series('f2b_store_active_bans{jail="manual",source="manual"}'), 1);
    assert.equal(series('f2b_store_bans_total{jail="manual",source="manual"}'), 2);
    assert.equal(series('f2b_store_bans_total{jail="sshd",source="filter"}'), 1);
    assert.equal(series('f2b_store_failures_total{jail="sshd"}'), 4);
    assert.equal(series('f2b_store_failing_addresses{jail="sshd"}'), 1);
    assert.equal(series('f2b_store_firewall_entries{backend="nftables",jail="sshd"}'), 1);
    assert.equal(series(`f2b_store_log_lines_read_total{source="${s.authLog}"}`), 4);
    assert.equal(series(`f2b_store_log_behind_bytes{source="${s.authLog}"}`), 0);
    assert.ok((series('f2b_store_reconcile_runs_total{reason="start"}') ?? 0) >= 1);
    assert.ok((series('f2b_store_database_size_bytes') ?? 0) > 0);
  });

  it('promtool check metrics passes on a scrape', async () => {
    const text = await (await fetch(metricsUrl)).text();
    // Exit status 0 and no lint problem printed.
    assert.equal(execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' }).trim(), '');
  });

  it('every panel\'s query parses and returns series in Prometheus, and so does every template variable\'s', async () => {
    const exprs = [
      ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ what: `panel "${panel.title}"`, expr: asSent(target.expr) }))),
      // label_values(SELECTOR, label) is Grafana's: the selector is PromQL.
      ...dashboard.templating.list.map((v) => ({ what: `variable ${v.name}`, expr: asSent(/^label_values\((.*), \w+\)$/.exec(v.query.query)?.[1] ?? v.query.query) })),
    ];
    assert.ok(exprs.length >= 15);
    // Rates need two samples in their window after the bans: Prometheus scrapes every second.
    const answers = new Map<string, PromSeries[]>();
    const empty = (): string[] => exprs.filter(({ expr }) => (answers.get(expr) ?? []).length === 0).map(({ what, expr }) => `${what}: ${expr}`);
    const deadline = Date.now() + 60_000;
    do {
      for (const { expr } of exprs) answers.set(expr, await prometheus.query(expr));
      if (empty().length === 0) break;
      await sleep(1000);
    } while (Date.now() < deadline);
    assert.deepEqual(empty(), [], `queries that returned no series:\n${prometheus.log()}`);
    const active = answers.get(asSent(dashboard.panels.find((p) => p.title === 'Active bans per jail')?.targets?.[0]?.expr ?? ''));
    assert.deepEqual(Object.fromEntries((active ?? []).map((r) => [r.metric['jail'], Number(r.value[1])])), { sshd: 1, manual: 1 });
  });

  /** Scrapes /metrics until `check` passes on it (60 s at most: room for a loaded machine), and returns that scrape. */
  async function scrapeUntil(what: string, check: (text: string) => boolean): Promise<string> {
    const deadline = Date.now() + 60_000;
    let text = '';
    while (Date.now() < deadline) {
      text = await (await fetch(metricsUrl)).text();
      if (check(text)) return text;
      await sleep(200);
    }
    throw new Error(`timed out waiting for ${what}; the last scrape:\n${text}`);
  }
});
