import { readFile } from 'node:fs/promises';
import { ipv4Netmask, tryParseAddress, type Address } from '../core/index.js';
import { resolveTarget } from './atomic-file.js';

export const BEGIN_MARK = '# BEGIN f2b-store';
export const END_MARK = '# END f2b-store';

/** A hosts.deny file split around our block; `before` and `after` are kept byte for byte. */
export interface HostsDenyFile {
  /** Whether the file has our block at all. */
  readonly found: boolean;
  readonly before: string;
  readonly block: readonly string[];
  readonly after: string;
}

/** Splits file text at our markers; without a block, everything is `before`. */
export function splitHostsDeny(text: string): HostsDenyFile {
  const begin = text.indexOf(`${BEGIN_MARK}\n`);
  const end = begin === -1 ? -1 : text.indexOf(`${END_MARK}\n`, begin);
  if (begin === -1 || end === -1 || (begin > 0 && text[begin - 1] !== '\n')) return { found: false, before: text, block: [], after: '' };
  const inner = text.slice(begin + BEGIN_MARK.length + 1, end);
  return {
    found: true,
    before: text.slice(0, begin),
    block: inner === '' ? [] : inner.replace(/\n$/, '').split('\n'),
    after: text.slice(end + END_MARK.length + 1),
  };
}

export function joinHostsDeny(file: HostsDenyFile): string {
  const before = file.before === '' || file.before.endsWith('\n') ? file.before : `${file.before}\n`;
  const body = file.block.map((line) => `${line}\n`).join('');
  return `${before}${BEGIN_MARK}\n${body}${END_MARK}\n${file.after}`;
}

/** An address as tcp_wrappers writes it: IPv6 in brackets, IPv4 networks as net/mask. */
export function hostsDenyPattern(address: Address): string {
  const slash = address.text.indexOf('/');
  const host = slash === -1 ? address.text : address.text.slice(0, slash);
  if (address.family === 6) return address.isNetwork ? `[${host}]/${address.prefix}` : `[${host}]`;
  return address.isNetwork ? `${host}/${ipv4Netmask(address.prefix)}` : host;
}

/** Reads the address back from a `DAEMONS: PATTERN` line of our block; undefined for anything else. */
export function parseHostsDenyLine(line: string): Address | undefined {
  const colon = line.indexOf(': ');
  if (colon === -1) return undefined;
  return tryParseAddress(line.slice(colon + 2));
}

export function blockLine(daemons: string, address: Address): string {
  return `${daemons}: ${hostsDenyPattern(address)}`;
}

/** Reads the file; a missing file is empty. Anything but a regular file (a FIFO would block) is refused. */
export async function readHostsDeny(path: string): Promise<HostsDenyFile> {
  try {
    return splitHostsDeny(await readFile(resolveTarget(path), 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { found: false, before: '', block: [], after: '' };
    throw error;
  }
}

