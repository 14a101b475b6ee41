#!/usr/bin/python3
"""Checks the filters in filters/ against their sample logs with fail2ban itself.

Usage: /usr/bin/python3 test/filters/check-samples.py [NAME ...]

Each test/filters/samples/NAME is run through fail2ban-regex with filters/NAME.conf,
once per option set of each "# filterOptions:" section, and every line must match
exactly as its "# failJSON:" comment says: match or not, host, time, and any other
key (user, ...) as captured. It needs Debian's python3, which has the fail2ban module.

Sample times are UTC; a date without a year is read as if "now" were NOW below.
Exits 1 when any expectation fails.
"""

import ast
import calendar
import ipaddress
import json
import os
import sys
import tempfile

import fail2ban.client.fail2banregex as f2bregex
from fail2ban.server.mytime import MyTime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, 'test', 'filters', 'samples')
FILTERS = os.path.join(ROOT, 'filters')
NOW = calendar.timegm((2026, 11, 23, 13, 5, 1))
NOT_CAPTURES = ('time', 'match', 'host', 'desc')


def read_sample(path):
    """Sections of (option sets, [(lineno, line, expectation)])."""
    sections = [([{}], [])]
    pending = None
    with open(path, encoding='utf-8') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip('\r\n')
            if line.startswith('# filterOptions:'):
                opts = json.loads(line.split(':', 1)[1])
                sections.append((opts if isinstance(opts, list) else [opts], []))
            elif line.startswith('# failJSON:'):
                pending = json.loads(line.split(':', 1)[1])
            elif line.startswith('#') or not line.strip():
                continue
            else:
                if pending is None:
                    sys.exit('%s:%d: line without a failJSON comment' % (path, lineno))
                sections[-1][1].append((lineno, line, pending))
                pending = None
    return [s for s in sections if s[1]]


def run_regex(log_path, filter_spec, out):
    """fail2ban-regex LOG FILTER -o OUT, in this process so that MyTime can be set; host
    names are kept as written (usedns raw), as the samples note them."""
    printed = []
    f2bregex.output = printed.append
    MyTime.setTime(NOW)
    try:
        f2bregex.exec_command_line(['-l', 'critical', '--usedns=raw', '-o', out, log_path, filter_spec])
    finally:
        MyTime.setTime(None)
    return printed


def failures(lines, filter_spec):
    """[(line, host, epoch, captures)] for every failure fail2ban finds in lines; a failure
    that several lines make up (a multi-line session) belongs to the last of them."""
    with tempfile.NamedTemporaryFile('w', suffix='.log', encoding='utf-8', delete=False) as f:
        f.write(''.join(line + '\n' for line in lines))
    try:
        rows = run_regex(f.name, filter_spec, 'row')
        matches = run_regex(f.name, filter_spec, 'matches')
    finally:
        os.unlink(f.name)
    found = []
    for row, lines_of in zip(rows, matches):
        host, epoch, captures = ast.literal_eval(row.rstrip(","))
        if isinstance(lines_of, str):
            lines_of = ast.literal_eval(lines_of)
        found.append((''.join(lines_of[-1]), host, epoch, captures))
    return found


def canonical(host):
    """An address in one spelling (fail2ban writes IPv6 compressed), a name or network as is."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def filter_spec(name, opts):
    path = os.path.join(FILTERS, name + '.conf')
    if not opts:
        return path
    return '%s[%s]' % (path, ', '.join('%s="%s"' % kv for kv in opts.items()))


def check(name):
    problems = []
    matched = 0
    sample = os.path.join(SAMPLES, name)
    for option_sets, entries in read_sample(sample):
        for opts in option_sets:
            spec = filter_spec(name, opts)
            found = {}
            for line, host, epoch, captures in failures([e[1] for e in entries], spec):
                found.setdefault(line, []).append((host, epoch, captures))
            for lineno, line, expect in entries:
                where = '%s:%d %s' % (name, lineno, json.dumps(opts))
                hits = found.get(line, [])
                hit = hits.pop(0) if hits else None
                if not expect.get('match'):
                    if hit:
                        problems.append('%s: matched %s, expected no match' % (where, hit[0]))
                    continue
                if not hit:
                    problems.append('%s: no match, expected %s' % (where, expect.get('host')))
                    continue
                matched += 1
                host, epoch, captures = hit
                if canonical(host) != canonical(expect.get('host')):
                    problems.append('%s: host %s, expected %s' % (where, host, expect.get('host')))
                if 'time' in expect:
                    want = calendar.timegm(tuple(int(x) for x in expect['time'].replace('T', '-').replace(':', '-').split('-')))
                    if int(epoch) != want:
                        problems.append('%s: time %d, expected %d (%s)' % (where, epoch, want, expect['time']))
                for key, value in expect.items():
                    if key not in NOT_CAPTURES and captures.get(key) != value:
                        problems.append('%s: %s %r, expected %r' % (where, key, captures.get(key), value))
            for line, hits in found.items():
                for hit in hits:
                    problems.append('%s %s: unexpected match of %r' % (name, json.dumps(opts), line))
    return matched, problems


def main(names):
    names = names or sorted(os.listdir(SAMPLES))
    failed = False
    for name in names:
        matched, problems = check(name)
        print('%-16s %3d matches checked, %d problems' % (name, matched, len(problems)))
        for p in problems:
            print('  ' + p)
        failed = failed or bool(problems)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
