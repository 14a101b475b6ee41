import { tryParseAddress, type Address } from './address.js';

export interface ListEntry {
  readonly lineno: number;
  readonly address: Address;
}

export interface ListProblem {
  readonly lineno: number;
  readonly text: string;
}

export interface ParsedList {
  readonly entries: readonly ListEntry[];
  readonly problems: readonly ListProblem[];
}

/**
 * Reads a plain ban list: one address or CIDR per line; `#` starts a comment; blank lines are
 * ignored. Lines that are not an address are returned as problems with their 1-based number.
 */
export function parseAddressList(text: string): ParsedList {
  const entries: ListEntry[] = [];
  const problems: ListProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    const hash = raw.indexOf('#');
    const content = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (content === '') continue;
    const address = tryParseAddress(content);
    if (address) entries.push({ lineno: i + 1, address });
    else problems.push({ lineno: i + 1, text: content });
  }
  return { entries, problems };
}
