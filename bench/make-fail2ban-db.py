"""A real fail2ban database holding COUNT active bans, for bench/interop-bench.ts.

fail2ban's own Fail2BanDb (Debian's fail2ban, hence /usr/bin/python3) creates the file and its
schema. The rows then go in through sqlite3 in one transaction, laid out the way fail2ban's
addBan lays out a ban: one row in `bans` (the log) and one in `bips` (the current ban per ip and
jail), `data` passed as a dict so the adapter fail2ban registers encodes it as fail2ban does.

The mix, reproducible (fixed seed): five jails; 90% IPv4 in 198.18.0.0/15, 10% IPv6 in
2001:db8::/32; recidive bans name addresses another jail banned too, half of them permanent;
repeat offenders with bantime doubled per ban count up to 7 days; every ban made in the last
50 minutes so all are active for the whole benchmark; failures at or above the jail's maxretry
with their matched lines (fail2ban keeps at most 10).

Usage: /usr/bin/python3 make-fail2ban-db.py PATH COUNT NOW -- prints a JSON summary.
"""
import ipaddress
import json
import os
import random
import sqlite3
import sys
import time

from fail2ban.server.database import Fail2BanDb
from fail2ban.version import version as FAIL2BAN_VERSION

HOUR, DAY, WEEK = 3600, 86400, 7 * 86400
MAX_MATCHES = 10
MAX_AGE = 3000
V4_NET = ipaddress.IPv4Network("198.18.0.0/15")
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))

SYSLOG = "%(time)s mail01 "
# name, share of the bans in %, maxretry, first bantime, one matched log line
JAILS = (
    ("sshd", 60, 5, HOUR,
     SYSLOG + "sshd[%(pid)d]: Failed password for invalid user %(user)s from %(ip)s port %(port)d ssh2"),
    ("postfix-sasl", 15, 5, 6 * HOUR,
     SYSLOG + "postfix/smtpd[%(pid)d]: warning: unknown[%(ip)s]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"),
    ("nginx-http-auth", 10, 5, HOUR,
     "%(stamp)s [error] %(pid)d#%(pid)d: *%(port)d user \"%(user)s\": password mismatch, client: %(ip)s, "
     "server: example.org, request: \"GET /admin/ HTTP/1.1\", host: \"example.org\""),
    ("dovecot", 8, 5, 12 * HOUR,
     SYSLOG + "dovecot: auth: passwd-file(%(user)s,%(ip)s): unknown user"),
)
RECIDIVE_SHARE = 7
RECIDIVE_LINE = "%(stamp)s,%(ms)03d fail2ban.actions        [812]: NOTICE  [%(jail)s] Ban %(ip)s"
USERS = ("admin", "root", "test", "oracle", "ubuntu", "git", "postgres", "user", "guest", "support")


def main():
    path, count, now = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if count > V4_NET.num_addresses - 2:
        sys.exit("%d bans: %s has too few addresses" % (count, V4_NET))
    rng = random.Random(6)
    v4_offsets = rng.sample(range(1, V4_NET.num_addresses - 1), count)
    v6_seen = set()

    def new_address():
        if rng.random() < 0.1:
            while True:
                ip = str(ipaddress.IPv6Address(V6_BASE | rng.getrandbits(32) << 64 | rng.getrandbits(16)))
                if ip not in v6_seen:
                    v6_seen.add(ip)
                    return ip
        return str(V4_NET[v4_offsets.pop()])

    def matches(template, jail, ip, banned, failures):
        lines = []
        t = banned - failures * 40
        for _ in range(failures):
            t += rng.randrange(2, 40)
            values = {
                "time": time.strftime("%b %d %H:%M:%S", time.localtime(t)),
                "stamp": time.strftime("%Y/%m/%d %H:%M:%S" if jail == "nginx-http-auth" else "%Y-%m-%d %H:%M:%S",
                                       time.localtime(t)),
                "ms": rng.randrange(1000), "pid": rng.randrange(1000, 60000), "port": rng.randrange(1024, 65536),
                "user": rng.choice(USERS), "ip": ip, "jail": rng.choice(("sshd", "postfix-sasl")),
            }
            lines.append(template % values)
        return lines[-MAX_MATCHES:]

    weights = [share for _, share, _, _, _ in JAILS] + [RECIDIVE_SHARE]
    banned_elsewhere = []
    rows = []
    for _ in range(count):
        banned = now - rng.randrange(MAX_AGE)
        pick = rng.choices(range(len(weights)), weights)[0]
        if pick == len(JAILS) and banned_elsewhere:
            # recidive watches fail2ban's own log: its bans are addresses the other jails banned before.
            ip = banned_elsewhere.pop(rng.randrange(len(banned_elsewhere)))
            bancount = rng.choice((1, 1, 2))
            bantime = -1 if rng.random() < 0.5 else WEEK
            rows.append(("recidive", ip, banned, bantime, bancount,
                         {"matches": matches(RECIDIVE_LINE, "recidive", ip, banned, 5), "failures": 5}))
            continue
        name, _, maxretry, first, template = JAILS[pick % len(JAILS)]
        ip = new_address()
        banned_elsewhere.append(ip)
        bancount = rng.choices((1, 2, 3, 4), (85, 10, 4, 1))[0]
        bantime = min(first * 2 ** (bancount - 1), WEEK)
        failures = maxretry + rng.randrange(4)
        rows.append((name, ip, banned, bantime, bancount,
                     {"matches": matches(template, name, ip, banned, failures), "failures": failures}))

    Fail2BanDb(path).close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA foreign_keys = ON")
    with con:
        con.executemany("INSERT OR IGNORE INTO jails(name, enabled) VALUES(?, 1)",
                        [(name,) for name in sorted({r[0] for r in rows})])
        con.executemany("INSERT INTO bans(jail, ip, timeofban, bantime, bancount, data) VALUES(?, ?, ?, ?, ?, ?)", rows)
        con.executemany("INSERT OR REPLACE INTO bips(ip, jail, timeofban, bantime, bancount, data) VALUES(?, ?, ?, ?, ?, ?)",
                        [(r[1], r[0]) + r[2:] for r in rows])
    summary = {
        "fail2ban": FAIL2BAN_VERSION,
        "version": con.execute("SELECT version FROM fail2banDb").fetchone()[0],
        "bips": con.execute("SELECT count(*) FROM bips").fetchone()[0],
        "bans": con.execute("SELECT count(*) FROM bans").fetchone()[0],
        "active": con.execute("SELECT count(*) FROM bips WHERE bantime < 0 OR timeofban + bantime > ?", (now,)).fetchone()[0],
        "permanent": con.execute("SELECT count(*) FROM bips WHERE bantime < 0").fetchone()[0],
        "ipv6": con.execute("SELECT count(*) FROM bips WHERE ip LIKE '%:%'").fetchone()[0],
        "repeated": con.execute("SELECT count(*) FROM bips WHERE bancount > 1").fetchone()[0],
        "jails": dict(con.execute("SELECT jail, count(*) FROM bips GROUP BY jail ORDER BY count(*) DESC").fetchall()),
    }
    con.close()
    summary["bytes"] = os.path.getsize(path)
    print(json.dumps(summary))


main()
