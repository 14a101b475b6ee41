import { outlasts, type Expiry } from '../core/index.js';

/**
 * What a restore stream has written, per object and address: an element is written when it comes
 * first (`first`), and when it comes again only if it outlasts what was written (`again`: the later
 * expiry wins, as planElements and planItems keep it within one batch); otherwise not (undefined).
 */
export function writtenOnce(): (object: string, address: string, expiry: Expiry) => 'first' | 'again' | undefined {
  // One map per object, keyed by the address as read: no key to build per element.
  const objects = new Map<string, Map<string, Expiry>>();
  return (object, address, expiry) => {
    let written = objects.get(object);
    if (!written) objects.set(object, written = new Map());
    const before = written.get(address);
    if (before !== undefined && !outlasts(expiry, before)) return undefined;
    written.set(address, expiry);
    return before === undefined ? 'first' : 'again';
  };
}
