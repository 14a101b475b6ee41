import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostsDenyBlock, representHostsDeny } from '../../src/backends/index.js';
import { joinHostsDeny, parseHostsDenyLine, splitHostsDeny } from '../../src/backends/hosts-deny-file.js';

const entry = (jail: string, address: string, expiresAt: number | null) =>
  ({ jail, address, family: address.includes(':') ? 6 as const : 4 as const, expiresAt });

describe('hosts.deny block', () => {
  it('keeps everything outside the block byte for byte', () => {
    const outside = ['# /etc/hosts.deny\r\nsshd: 10.9.9.9\n\n', 'ALL: PARANOID\n# trailing, no newline'];
    const text = `${outside[0]}# BEGIN f2b-store\nALL: 203.0.113.7\n# END f2b-store\n${outside[1]}`;
    const file = splitHostsDeny(text);
    assert.deepEqual(file.block, ['ALL: 203.0.113.7']);
    assert.equal(file.before, outside[0]);
    assert.equal(file.after, outside[1]);
    assert.equal(joinHostsDeny(file), text);
    assert.equal(joinHostsDeny({ ...file, block: [] }), `${outside[0]}# BEGIN f2b-store\n# END f2b-store\n${outside[1]}`);
  });

  it('appends a block to a file that has none, after a final newline', () => {
    const file = splitHostsDeny('sshd: 10.9.9.9');
    assert.equal(file.found, false);
    assert.equal(joinHostsDeny({ ...file, block: ['ALL: 203.0.113.7'] }), 'sshd: 10.9.9.9\n# BEGIN f2b-store\nALL: 203.0.113.7\n# END f2b-store\n');
  });

  it('writes IPv6 in brackets and IPv4 networks as net/mask, and reads them back', () => {
    const lines = hostsDenyBlock([entry('*', '2001:db8::/32', null), entry('*', '198.51.100.0/24', null), entry('*', '203.0.113.7', null), entry('*', '2001:db8::5', 5)], 'ALL');
    assert.deepEqual(lines, ['ALL: 198.51.100.0/255.255.255.0', 'ALL: 203.0.113.7', 'ALL: [2001:db8::]/32', 'ALL: [2001:db8::5]']);
    assert.deepEqual(lines.map((l) => parseHostsDenyLine(l)?.text), ['198.51.100.0/24', '203.0.113.7', '2001:db8::/32', '2001:db8::5']);
    assert.equal(parseHostsDenyLine('sshd, vsftpd: 203.0.113.9')?.text, '203.0.113.9');
    assert.equal(parseHostsDenyLine('ALL: PARANOID'), undefined);
  });

  it('holds one line per address, whichever jails ban it, with the longest expiry', () => {
    const held = representHostsDeny([entry('sshd', '203.0.113.7', 100), entry('recidive', '203.0.113.7', null), entry('sshd', '203.0.113.8', 50), entry('x', '203.0.113.8', 70)]);
    assert.deepEqual(held.map((e) => [e.jail, e.address, e.expiresAt]), [['*', '203.0.113.7', null], ['*', '203.0.113.8', 70]]);
  });
});
