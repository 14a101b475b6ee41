/**
 * fail2ban's regex tags (`<HOST>`, `<F-USER>…</F-USER>`, `<SKIPLINES>`, …) expanded into Python
 * regex text exactly as fail2ban 1.0.2 does before compiling, so group names and what each
 * alternative captures are fail2ban's.
 */

/** fail2ban's `usedns`: only `no` drops the host-name alternative from `<HOST>`. */
export type UseDns = 'yes' | 'warn' | 'no' | 'raw';

const IP4 = String.raw`(?:\d{1,3}\.){3}\d{1,3}`;
const IP6 = String.raw`(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)`;

/** An IPv4 address, also written IPv4-mapped (`::ffff:1.2.3.4`, the prefix is not captured). */
const HOST_IP4 = String.raw`(?:::f{4,6}:)?(?P<ip4>${IP4})`;
const HOST_IP6 = `(?P<ip6>${IP6})`;
const HOST_DNS = String.raw`(?P<dns>[\w\-.^_]*\w)`;
const HOST_CIDR = String.raw`(?P<cidr>\d+)`;
/** The order matters: an address is tried before a host name, IPv4 before IPv6. */
const HOST_ADDR = String.raw`\[?(?:${HOST_IP4}|${HOST_IP6})\]?`;
const HOST_ANY = `(?:${HOST_ADDR}|${HOST_DNS})`;
const HOST_SUBNET = String.raw`\[?(?:${HOST_IP4}|${HOST_IP6})(?:/${HOST_CIDR})?\]?`;

/** Tags replaced by a fixed pattern; `F-…/` are the self-closing spellings (`<F-ID/>`). */
const FIXED_TAGS: ReadonlyMap<string, string> = new Map([
  ['IP4', HOST_IP4],
  ['F-IP4/', HOST_IP4],
  ['IP6', HOST_IP6],
  ['F-IP6/', HOST_IP6],
  ['ADDR', HOST_ADDR],
  ['F-ADDR/', HOST_ADDR],
  ['CIDR', HOST_CIDR],
  ['F-CIDR/', HOST_CIDR],
  ['SUBNET', HOST_SUBNET],
  ['F-SUBNET/', HOST_SUBNET],
  ['DNS', HOST_DNS],
  ['F-DNS/', HOST_DNS],
  ['F-ID/', String.raw`(?P<fid>\S+)`],
  ['F-PORT/', String.raw`(?P<fport>\w+)`],
]);

const TAG = /<\/?[\p{L}\p{N}_-]+\/?>/gu;
const CUSTOM_TAG = /^(\/?)F-([A-Z0-9_-]+)$/;
/** fail2ban rewrites a global flag group opening a group, `((?i)x)`/`(?:(?i)x)`, to `(?i:x)`. */
const GLOBAL_TO_LOCAL_FLAGS = /(?<!\\)\((?:\?:)?(\(\?[a-z]+)\)/g;

/** Group name fail2ban gives to a custom tag: lowercase, `id` and `port` renamed. */
export function tagGroupName(tag: string): string {
  const name = tag.toLowerCase();
  return name === 'id' ? 'fid' : name === 'port' ? 'fport' : name;
}

/**
 * The Python regex fail2ban compiles for `regex`: tags expanded (`<F-NAME>…</F-NAME>` becomes the
 * group `name`; a closing tag that was never opened and unknown tags stay as written), then
 * global flags wrapped in a group turned into scoped flags.
 */
export function expandFailTags(regex: string, useDns: UseDns = 'warn'): string {
  const opened = new Set<string>();
  let skipLines = 0;
  const expanded = regex.replace(TAG, (tag) => {
    const name = tag.slice(1, -1);
    if (name === 'HOST') return useDns === 'no' ? HOST_ADDR : HOST_ANY;
    if (name === 'SKIPLINES') return String.raw`\n(?P<skiplines${skipLines++}>(?:(?:.*\n)*?))`;
    const fixed = FIXED_TAGS.get(name);
    if (fixed !== undefined) return fixed;
    const custom = CUSTOM_TAG.exec(name);
    if (custom === null) return tag;
    const [, closing, tagName = ''] = custom;
    if (closing === '/') return opened.has(tagName) ? ')' : tag;
    opened.add(tagName);
    return `(?P<${tagGroupName(tagName)}>`;
  });
  return expanded.replace(GLOBAL_TO_LOCAL_FLAGS, '$1:');
}
