import type { BanRequest } from '../core/index.js';

/** Each octet's text ("0" to "255") by its place among the others in text order: "1" < "10" < "100" < … < "2" < "20". */
const OCTET_RANK = (() => {
  const rank = new Uint8Array(256);
  Array.from({ length: 256 }, (_, octet) => String(octet)).sort().forEach((text, place) => {
    rank[Number(text)] = place;
  });
  return rank;
})();

/**
 * A canonical IPv4 host (`203.0.113.7`: four decimal octets, no leading zero) as a 32-bit key in
 * the order SQLite keeps its text: each octet by its text's rank, so comparing two keys compares
 * the texts (a shorter octet sorts first, as the '.' or the end after it is below any digit).
 * -1 for any other text.
 */
function ipv4TextKey(text: string): number {
  let key = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 46) {
      if (digits === 0 || dots === 3) return -1;
      key = key * 256 + (OCTET_RANK[octet] as number);
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= 48 && code <= 57 && digits < 3 && !(digits === 1 && octet === 0)) {
      octet = octet * 10 + code - 48;
      if (octet > 255) return -1;
      digits++;
    } else return -1;
  }
  return dots === 3 && digits > 0 ? key * 256 + (OCTET_RANK[octet] as number) : -1;
}

/** The places 0 … keys.length-1 ordered by their key, stably: a radix sort on two 16-bit digits. */
function placesByKey(keys: Uint32Array): Uint32Array {
  let places = new Uint32Array(keys.length);
  for (let place = 0; place < keys.length; place++) places[place] = place;
  for (const shift of [0, 16]) {
    const starts = new Uint32Array(65537);
    for (const place of places) {
      const digit = ((keys[place] as number) >>> shift & 0xffff) + 1;
      starts[digit] = (starts[digit] as number) + 1;
    }
    for (let digit = 1; digit <= 65536; digit++) starts[digit] = (starts[digit] as number) + (starts[digit - 1] as number);
    const next = new Uint32Array(places.length);
    for (const place of places) {
      const digit = (keys[place] as number) >>> shift & 0xffff;
      const at = starts[digit] as number;
      next[at] = place;
      starts[digit] = at + 1;
    }
    places = next;
  }
  return places;
}

const byAddress = (a: BanRequest, b: BanRequest): number => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0);

/**
 * The first four characters of ASCII `text` as a number in their text order (the end below any
 * character): two texts whose heads differ compare as their heads.
 */
function headOf(text: string): number {
  return ((text.charCodeAt(0) & 0xff) << 24 | (text.charCodeAt(1) & 0xff) << 16 | (text.charCodeAt(2) & 0xff) << 8 | (text.charCodeAt(3) & 0xff)) >>> 0;
}

/**
 * `requests` by address in SQLite's text order (JavaScript's for the ASCII of addresses), stably:
 * IPv4 hosts by their key (ipv4TextKey; sorting numbers is several times faster than comparing
 * text), the rest (IPv6, networks) by their text, the two merged by the heads of their text
 * where these differ (a million host texts read again in key order cost a second: each one is a
 * cache miss).
 */
export function byAddressText(requests: readonly BanRequest[]): BanRequest[] {
  const keys = new Uint32Array(requests.length);
  const heads = new Uint32Array(requests.length);
  const hosts = new Uint32Array(requests.length);
  const rest: BanRequest[] = [];
  let count = 0;
  requests.forEach((request, place) => {
    const key = ipv4TextKey(request.address);
    if (key === -1) rest.push(request);
    else {
      keys[count] = key;
      heads[count] = headOf(request.address);
      hosts[count++] = place;
    }
  });
  rest.sort(byAddress);
  const restHeads = rest.map((request) => headOf(request.address));
  const out: BanRequest[] = [];
  let next = 0;
  for (const place of placesByKey(keys.subarray(0, count))) {
    const head = heads[place] as number;
    const host = requests[hosts[place] as number] as BanRequest;
    for (; next < rest.length; next++) {
      const restHead = restHeads[next] as number;
      const before = restHead < head || (restHead === head && (rest[next] as BanRequest).address < host.address);
      if (!before) break;
      out.push(rest[next] as BanRequest);
    }
    out.push(host);
  }
  for (; next < rest.length; next++) out.push(rest[next] as BanRequest);
  return out;
}

/**
 * `requests` in the order of the open bans' index on (jail, address), which `list` and
 * store.active() walk: rows written in it lie in the table as the index reads them. The requests
 * of one address and jail come together, in their order.
 */
export function inJailAddressOrder(requests: Iterable<BanRequest>): BanRequest[] {
  const jails = new Map<string, BanRequest[]>();
  for (const request of requests) {
    const ofJail = jails.get(request.jail);
    if (ofJail === undefined) jails.set(request.jail, [request]);
    else ofJail.push(request);
  }
  const ordered = [...jails.keys()].sort().map((jail) => byAddressText(jails.get(jail) as BanRequest[]));
  return ordered.length === 1 ? ordered[0] as BanRequest[] : ordered.flat();
}
