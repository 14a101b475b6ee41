import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './cli.js';
import { waitFor } from './daemon.js';

/** A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address !== 'object') throw new Error('no port');
  return address.port;
}

/** One series of an instant query's answer. */
export interface PromSeries {
  readonly metric: Record<string, string>;
  readonly value: readonly [number, string];
}

/** Debian's prometheus as a throw-away process: its own storage in a temp dir, on 127.0.0.1. */
export interface PrometheusProcess {
  readonly url: string;
  /** An instant query through /api/v1/query; throws with Prometheus's error (a parse error names the expression). */
  query(expr: string): Promise<PromSeries[]>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `targets` (host:port) every second, and waits until it is ready. */
export async function startPrometheus(targets: readonly string[]): Promise<PrometheusProcess> {
  const { dir, cleanup } = tempDir();
  const port = await freePort();
  const config = join(dir, 'prometheus.yml');
  writeFileSync(config, [
    'global:', '  scrape_interval: 1s', '  evaluation_interval: 1s',
    'scrape_configs:', '  - job_name: f2b-store', '    static_configs:', `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`, '',
  ].join('\n'));
  // setpriv --pdeathsig: Prometheus ends with the test process, even when it is killed.
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', 'prometheus', `--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
    await exited;
    cleanup();
  };
  let ready = false;
  try {
    await waitFor('Prometheus ready', () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited (${child.exitCode}):\n${output}`);
      void fetch(`${url}/-/ready`).then((r) => { ready = r.ok; }, () => undefined);
      return ready;
    }, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    log: () => output,
    stop,
    async query(expr) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = await response.json() as { status: string; error?: string; data?: { resultType: string; result: PromSeries[] } };
      if (body.status !== 'success' || body.data === undefined) throw new Error(`${expr}: ${body.error ?? response.status}`);
      if (body.data.resultType !== 'vector') throw new Error(`${expr}: a ${body.data.resultType}, not an instant vector`);
      return body.data.result;
    },
  };
}
