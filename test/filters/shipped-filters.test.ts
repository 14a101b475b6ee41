/**
 * The filters f2b-store ships (filters/*.conf), each on its own sample log in fail2ban's
 * sample-log convention (test/filters/samples/NAME): `# filterOptions: [...]` starts a section
 * run once per option set, `# failJSON: {...}` says what the next line must give (match or not,
 * host, time, user…), and an unannotated line must not match. Sample times are UTC; a date
 * without a year is read as of 2026-11-23 13:05:01 UTC. test/filters/check-samples.py checks
 * the same files with fail2ban itself, and the last test here runs it.
 *
 * Beside the samples, fail2ban's two guards of its own sample test, for every shipped filter in
 * every mode it has: each failregex is hit by some sample line, and no expression lets text of
 * the client's stand where the address is read (host-anchoring.ts). And every syslog sample line
 * is read again in the other framings common.conf promises (FRAMINGS): the same hosts, or the
 * filter lost a framing (as five did by setting their own datepattern).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { loadFilter, SHIPPED_FILTER_DIR } from '../../src/config/index.js';
import { expandFailTags, LogFilter, type Failure } from '../../src/filter/index.js';
import { checkHostAnchoring } from './host-anchoring.js';
import { modesOf, SHIPPED_FILTERS } from '../helpers/shipped-filter-list.js';
import { inTimeZone } from '../helpers/time-zone.js';

const NOW = Date.UTC(2026, 10, 23, 13, 5, 1) / 1000;
const SAMPLES = fileURLToPath(new URL('samples/', import.meta.url));
const NOT_CAPTURES = new Set(['time', 'match', 'host', 'desc']);

interface Expectation {
  readonly lineno: number;
  readonly line: string;
  readonly expect: Readonly<Record<string, unknown>>;
}

/** The sample file as sections: each with its option sets and its lines in order. */
function readSamples(name: string): { options: Record<string, string>[]; lines: Expectation[] }[] {
  const text = readFileSync(`${SAMPLES}${name}`, 'utf8').split('\n');
  const sections: { options: Record<string, string>[]; lines: Expectation[] }[] = [];
  let current: (typeof sections)[number] | undefined;
  let pending: Record<string, unknown> | undefined;
  text.forEach((line, i) => {
    const note = /^#+ ?(failJSON|filterOptions):(.+)$/.exec(line);
    if (note) {
      const data = JSON.parse(note[2]!) as unknown;
      if (note[1] === 'filterOptions') {
        current = { options: (Array.isArray(data) ? data : [data]) as Record<string, string>[], lines: [] };
        sections.push(current);
      } else {
        pending = data as Record<string, unknown>;
      }
      return;
    }
    if (line.startsWith('#') || line.trim() === '') return;
    if (!current) sections.push(current = { options: [{}], lines: [] });
    current.lines.push({ lineno: i + 1, line, expect: pending ?? { match: false } });
    pending = undefined;
  });
  return sections;
}

/** What the failure bans, as fail2ban writes it: the address, or the network with its prefix length. */
function hostText({ host }: Failure): string {
  const full = host.kind === 'ip6' ? 128 : 32;
  return host.cidr === undefined || host.cidr >= full ? host.value : `${host.value}/${host.cidr}`;
}

function problem(expect: Readonly<Record<string, unknown>>, failures: readonly Failure[]): string | undefined {
  if (expect.match !== true) return failures.length === 0 ? undefined : `matched ${failures.map(hostText).join(', ')}, should not`;
  if (failures.length !== 1) return failures.length === 0 ? 'did not match' : `${failures.length} regexes matched`;
  const [failure] = failures as [Failure];
  const wrong: string[] = [];
  const host = hostText(failure);
  if (expect.host !== undefined && host !== expect.host) wrong.push(`host ${host} ≠ ${String(expect.host)}`);
  if (typeof expect.time === 'string') {
    const want = Date.parse(`${expect.time}Z`) / 1000;
    if (failure.time !== want) wrong.push(`time ${failure.time} ≠ ${want} (${expect.time})`);
  }
  for (const [key, want] of Object.entries(expect)) {
    if (NOT_CAPTURES.has(key)) continue;
    if ((failure.captures[key] ?? null) !== want) wrong.push(`${key} ${JSON.stringify(failure.captures[key])} ≠ ${JSON.stringify(want)}`);
  }
  return wrong.length === 0 ? undefined : wrong.join('; ');
}

/** A sample line as syslog writes it to a file: "Nov 20 12:00:01 host tag[pid]: message". */
const RFC3164 = /^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d:\d\d:\d\d) ([^\s:]+) ([\w./-]+?)(?:\[(\d+)\])?: (.*)$/;
type Rfc3164Parts = [string, string, string, string, string, string, string | undefined, string];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * The other framings filters/common.conf reads (README, Filters), made from an RFC 3164 line:
 * rsyslog's ISO 8601 (Debian 12's default), journalctl's short-iso, short-precise and short-full,
 * a priority before the RFC 3164 date, and RFC 5424 (bare, rsyslog's template, structured
 * data that differs on every line, and inside a relay's RFC 3164 line). The year is the samples' (2026). Lines
 * are compared by the hosts they give, with their sessions (each framing reads the whole
 * section again, as the plain one does).
 */
const FRAMINGS: readonly (readonly [string, (p: Rfc3164Parts) => string])[] = (() => {
  let sequence = 1;
  const iso = (p: Rfc3164Parts): string => `2026-${String(MONTHS.indexOf(p[1]) + 1).padStart(2, '0')}-${p[2].trim().padStart(2, '0')}T${p[3]}`;
  const tag = (p: Rfc3164Parts): string => `${p[5]}${p[6] === undefined ? '' : `[${p[6]}]`}`;
  const weekday = (p: Rfc3164Parts): string => ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][new Date(`${iso(p)}Z`).getUTCDay()]!;
  return [
    ['rsyslog ISO 8601', (p) => `${iso(p)}.123456+00:00 ${p[4]} ${tag(p)}: ${p[7]}`],
    ['journalctl -o short-iso', (p) => `${iso(p)}+0000 ${p[4]} ${tag(p)}: ${p[7]}`],
    ['journalctl -o short-precise', (p) => `${p[1]} ${p[2].trim().padStart(2, '0')} ${p[3]}.123456 ${p[4]} ${tag(p)}: ${p[7]}`],
    ['journalctl -o short-full', (p) => `${weekday(p)} ${iso(p).replace('T', ' ')} UTC ${p[4]} ${tag(p)}: ${p[7]}`],
    ['<PRI> RFC 3164', (p) => `<38>${p[0]}`],
    // Only a tag with a pid: without one, "host word: " may be no tag at all (Dovecot's own file
    // relayed with a host name), and its RFC 5424 form would be no line anyone writes.
    ['RFC 5424', (p) => (p[6] === undefined ? p[0] : `<38>1 ${iso(p)}.123Z ${p[4]} ${p[5]} ${p[6]} - - ${p[7]}`)],
    // rsyslog's RSYSLOG_SyslogProtocol23Format keeps the blank after the legacy tag.
    ['RFC 5424, rsyslog template', (p) => (p[6] === undefined ? p[0] : `<38>1 ${iso(p)}.123456+00:00 ${p[4]} ${p[5]} ${p[6]} - -  ${p[7]}`)],
    // OPNsense's syslog-ng numbers every line in its structured data: a connection's lines differ there.
    ['RFC 5424, structured data', (p) => (p[6] === undefined ? p[0] : `<38>1 ${iso(p)}+00:00 ${p[4]} ${p[5]} ${p[6]} - [meta sequenceId="${sequence++}"] ${p[7]}`)],
    // syslog-ng before 3.19 on FreeBSD 12: the RFC 5424 message taken whole for an RFC 3164 one's text.
    ['RFC 5424 inside a relay\'s RFC 3164 line', (p) => (p[6] === undefined ? p[0] : `${p[1]} ${p[2]} ${p[3]} ${p[4]} 1 ${iso(p)}.245714+00:00 ${p[4]} ${p[5]} ${p[6]} - - ${p[7]}`)],
  ];
})();

const modeOf = (name: string, options: Record<string, string>): string => options.mode ?? loadFilter(name, [SHIPPED_FILTER_DIR]).options.mode ?? 'normal';

describe('shipped filters on their sample logs', () => {
  inTimeZone('UTC');
  it('every shipped filter has a sample log', () => {
    const samples = new Set(readdirSync(SAMPLES));
    assert.deepEqual(SHIPPED_FILTERS.filter((name) => !samples.has(name)), []);
  });

  for (const name of SHIPPED_FILTERS) {
    it(`${name}: every sample line matches as annotated, hostile lines never yield the injected address`, () => {
      const failed: string[] = [];
      let matches = 0;
      let injections = 0;
      for (const section of readSamples(name)) {
        for (const options of section.options) {
          const filter = new LogFilter(loadFilter(name, [SHIPPED_FILTER_DIR], { overrides: options }), { now: () => NOW, checkAllRegex: true });
          for (const { lineno, line, expect } of section.lines) {
            const failures = filter.processLine(line).failures;
            if (expect.match === true) matches++;
            // Lines carrying a forged address (198.51.100.9, the samples' injected one) must never give it.
            if (line.includes('198.51.100.9') && !/198\.51\.100\.9\d/.test(line)) {
              injections++;
              if (failures.some((f) => f.host.value === '198.51.100.9')) failed.push(`${lineno} ${JSON.stringify(options)}: yielded the injected 198.51.100.9`);
            }
            const wrong = problem(expect, failures);
            if (wrong) failed.push(`${lineno} ${JSON.stringify(options)}: ${wrong}\n    ${line}`);
          }
        }
      }
      assert.deepEqual(failed, [], `${name} sample lines`);
      assert.ok(matches >= 3, `${name} has at least 3 matching samples (${matches})`);
      assert.ok(injections >= 1, `${name} has at least one log-injection sample (${injections})`);
    });

    it(`${name}: every failregex of every mode is hit by a sample line`, () => {
      const modes = modesOf(name);
      const sampled = new Set<string>();
      const hit = new Set<string>();
      const regexes = new Map<string, string>();
      for (const section of readSamples(name)) {
        for (const options of section.options) {
          sampled.add(modeOf(name, options));
          const definition = loadFilter(name, [SHIPPED_FILTER_DIR], { overrides: options });
          definition.failregex.forEach((r) => regexes.set(r.text, `${r.file.split('/').pop()}:${r.line}`));
          const filter = new LogFilter(definition, { now: () => NOW, checkAllRegex: true });
          for (const { line } of section.lines) for (const index of filter.processLine(line).hits) hit.add(definition.failregex[index]!.text);
        }
      }
      assert.deepEqual(modes.filter((mode) => !sampled.has(mode)), [], `${name}: modes without a filterOptions section in the samples`);
      const unhit = [...regexes].filter(([text]) => !hit.has(text)).map(([text, where]) => `${where} ${text}`);
      assert.deepEqual(unhit, [], `${name}: failregexes no sample line hits`);
    });

    it(`${name}: no expression lets a client value stand where the address is read`, () => {
      const flagged: string[] = [];
      const allowed: string[] = [];
      for (const mode of modesOf(name)) {
        // The syslog framing before the program's tag is syslog's own, not the client's.
        const definition = loadFilter(name, [SHIPPED_FILTER_DIR], { overrides: { mode, __prefix_line: '' } });
        const expressions = [...definition.failregex, ...(definition.prefregex ? [definition.prefregex] : [])];
        for (const regex of expressions) {
          const verdict = checkHostAnchoring(expandFailTags(regex.text), { multiline: definition.maxlines > 1 });
          if (verdict.problems.length === 0) continue;
          const where = `${regex.file.split('/').pop()}:${regex.line}`;
          if (verdict.allowance !== undefined) allowed.push(`${where}: ${verdict.allowance}`);
          else flagged.push(`${where} [${mode}]: ${verdict.problems.map((p) => `${p.run} before the address (${p.because})`).join('; ')}`);
        }
      }
      if (allowed.length > 0) console.log(`${name}: allowed by their own reason:\n  ${[...new Set(allowed)].join('\n  ')}`);
      assert.deepEqual([...new Set(flagged)], [], `${name}: expressions a client's text can steer`);
    });
  }

  for (const name of SHIPPED_FILTERS) {
    it(`${name}: its syslog sample lines read the same under every framing of common.conf`, () => {
      const wrong: string[] = [];
      let framed = 0;
      for (const section of readSamples(name)) {
        for (const options of section.options) {
          if (options.logtype !== undefined) continue;
          const hosts = (lines: readonly string[]): string[] => {
            const filter = new LogFilter(loadFilter(name, [SHIPPED_FILTER_DIR], { overrides: options }), { now: () => NOW, checkAllRegex: true });
            return lines.map((line) => filter.processLine(line).failures.map(hostText).join(' '));
          };
          const lines = section.lines.map((l) => l.line);
          const plain = hosts(lines);
          for (const [framing, frame] of FRAMINGS) {
            const reframed = lines.map((line) => {
              const parts = RFC3164.exec(line);
              return parts === null ? line : frame(parts as unknown as Rfc3164Parts);
            });
            hosts(reframed).forEach((got, i) => {
              if (reframed[i] === lines[i]) return;
              framed++;
              if (got !== plain[i]) wrong.push(`${section.lines[i]!.lineno} ${JSON.stringify(options)} ${framing}: ${got || 'nothing'}, plain ${plain[i] || 'nothing'}\n    ${reframed[i]!}`);
            });
          }
        }
      }
      assert.deepEqual(wrong, [], `${name}: lines read otherwise in another framing`);
      // Every shipped filter reads syslog: its samples hold syslog lines to read again.
      assert.ok(framed > 0, `${name}: no sample line in RFC 3164 form to read again`);
    });
  }

  it('fail2ban itself reads every sample line of every shipped filter as annotated', () => {
    const script = fileURLToPath(new URL('check-samples.py', import.meta.url));
    const result = spawnSync('/usr/bin/python3', [script], { encoding: 'utf8' });
    assert.equal(result.status, 0, `check-samples.py (${result.status}):\n${result.stdout}${result.stderr}`);
    for (const name of SHIPPED_FILTERS) assert.match(result.stdout, new RegExp(`^${name} +\\d+ matches checked, 0 problems$`, 'm'));
  });
});
