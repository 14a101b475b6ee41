/**
 * Generated logs for the filter benchmark: a busy server's auth.log (sshd among cron, sudo,
 * systemd-logind) and mail.log (postfix smtpd/qmgr/smtp/cleanup), syslog-dated, deterministic.
 * About one line in eight is a failure the stock filters count; the rest is the noise a filter
 * must reject quickly. Written in chunks, never held whole.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { random } from './workload.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const USERS = ['root', 'admin', 'test', 'oracle', 'ubuntu', 'git', 'postgres', 'user', 'guest', 'ftpuser'];
const MAILBOXES = ['info', 'sales', 'admin', 'office', 'contact', 'support'];


type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, below: number): number => Math.floor(rng() * below);
const attacker = (rng: Rng): string => (rng() < 0.9
  ? `${pick(rng, [203, 198, 185, 45, 91])}.${int(rng, 256)}.${int(rng, 256)}.${1 + int(rng, 254)}`
  : `2001:db8:${int(rng, 65536).toString(16)}::${(1 + int(rng, 65535)).toString(16)}`);
const port = (rng: Rng): number => 1024 + int(rng, 64000);

function syslogDate(epoch: number): string {
  const d = new Date(epoch * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function authLine(rng: Rng, pid: number): string {
  const r = rng();
  const ip = attacker(rng);
  const user = pick(rng, USERS);
  if (r < 0.05) return `sshd[${pid}]: Failed password for ${user} from ${ip} port ${port(rng)} ssh2`;
  if (r < 0.08) return `sshd[${pid}]: Failed password for invalid user ${user} from ${ip} port ${port(rng)} ssh2`;
  if (r < 0.10) return `sshd[${pid}]: Invalid user ${user} from ${ip} port ${port(rng)}`;
  if (r < 0.12) return `sshd[${pid}]: Connection closed by authenticating user ${user} ${ip} port ${port(rng)} [preauth]`;
  if (r < 0.20) return `sshd[${pid}]: Received disconnect from ${ip} port ${port(rng)}:11: Bye Bye [preauth]`;
  if (r < 0.28) return `sshd[${pid}]: Disconnected from invalid user ${user} ${ip} port ${port(rng)} [preauth]`;
  if (r < 0.34) return `sshd[${pid}]: Accepted publickey for deploy from 10.0.${int(rng, 256)}.${int(rng, 256)} port ${port(rng)} ssh2: ED25519 SHA256:q3H0t8yqVb0b1Xw2k5m9yZ1d4cS8fJ2pLr7Tn6uWvE0`;
  if (r < 0.42) return `sshd[${pid}]: pam_unix(sshd:session): session opened for user deploy(uid=1000) by (uid=0)`;
  if (r < 0.50) return `sshd[${pid}]: pam_unix(sshd:session): session closed for user deploy`;
  if (r < 0.70) return `CRON[${pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`;
  if (r < 0.85) return `CRON[${pid}]: pam_unix(cron:session): session closed for user root`;
  if (r < 0.93) return `sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; COMMAND=/usr/bin/systemctl status nginx`;
  return `systemd-logind[512]: New session ${int(rng, 100000)} of user deploy.`;
}

function mailLine(rng: Rng, pid: number): string {
  const r = rng();
  const ip = attacker(rng);
  const id = int(rng, 0xfffffffff).toString(16).toUpperCase().padStart(10, '0');
  const to = `${pick(rng, MAILBOXES)}@example.org`;
  if (r < 0.06) return `postfix/smtpd[${pid}]: NOQUEUE: reject: RCPT from unknown[${ip}]: 554 5.7.1 <${to}>: Relay access denied; from=<spam@example.net> to=<${to}> proto=ESMTP helo=<example.net>`;
  if (r < 0.09) return `postfix/smtpd[${pid}]: NOQUEUE: reject: RCPT from unknown[${ip}]: 450 4.7.1 Client host rejected: cannot find your reverse hostname, [${ip}]; from=<x@example.net> to=<${to}> proto=ESMTP helo=<WIN-${id}>`;
  if (r < 0.12) return `postfix/smtpd[${pid}]: NOQUEUE: reject: RCPT from unknown[${ip}]: 550 5.1.1 <nobody${int(rng, 999)}@example.org>: Recipient address rejected: User unknown in virtual mailbox table; from=<x@example.net> to=<nobody@example.org> proto=ESMTP helo=<example.net>`;
  if (r < 0.30) return `postfix/smtpd[${pid}]: connect from unknown[${ip}]`;
  if (r < 0.48) return `postfix/smtpd[${pid}]: disconnect from unknown[${ip}] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4`;
  if (r < 0.60) return `postfix/qmgr[${pid}]: ${id}: from=<newsletter@example.com>, size=${int(rng, 90000)}, nrcpt=1 (queue active)`;
  if (r < 0.72) return `postfix/smtp[${pid}]: ${id}: to=<${to}>, relay=mx.example.com[198.51.100.25]:25, delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)`;
  if (r < 0.84) return `postfix/cleanup[${pid}]: ${id}: message-id=<${id}@mail.example.org>`;
  if (r < 0.92) return `postfix/qmgr[${pid}]: ${id}: removed`;
  return `postfix/smtpd[${pid}]: lost connection after EHLO from unknown[${ip}]`;
}

export const LOG_KINDS = { auth: authLine, mail: mailLine } as const;
export type LogKind = keyof typeof LOG_KINDS;

/** Writes `lines` lines of the given kind to `path`, dated a few a second up to `endEpoch`. */
export async function writeLog(path: string, kind: LogKind, lines: number, endEpoch: number): Promise<void> {
  // A fixed seed per kind, so every run writes the same file.
  const rng = random(kind === 'auth' ? 1 : 2);
  const line = LOG_KINDS[kind];
  const out = createWriteStream(path);
  const start = endEpoch - Math.floor(lines / 4);
  let chunk: string[] = [];
  for (let i = 0; i < lines; i++) {
    chunk.push(`${syslogDate(start + Math.floor(i / 4))} mail-1 ${line(rng, 1000 + int(rng, 60000))}`);
    if (chunk.length === 10_000 || i === lines - 1) {
      if (!out.write(`${chunk.join('\n')}\n`)) await once(out, 'drain');
      chunk = [];
    }
  }
  out.end();
  await once(out, 'finish');
}
