import { InputError } from '../core/index.js';
import { lineTextAt, originAt, replaceAllText, where, type SourcedText } from './sourced-text.js';

/** fail2ban gives up on a tag substituted more often than this within one value (a disguised loop). */
const MAX_REPLACEMENTS = 25;

export interface TagOptions {
  /** Tags neither substituted nor substituted into (fail2ban: the base names of `key?family=…` values). */
  readonly ignore?: ReadonlySet<string>;
  /** A tag that is not one of the values: its text, or undefined to leave `<tag>` as it is. */
  readonly lookup?: (tag: string) => SourcedText | undefined;
}

function fail(value: SourcedText, at: number, problem: string): never {
  const text = lineTextAt(value, at);
  throw new InputError(`${where(originAt(value, at))}: ${problem}: ${text.length > 120 ? `${text.slice(0, 120)}…` : text}`);
}

/**
 * Replaces `<tag>` in every value by the value named `tag`, repeatedly, until none is left that
 * can be replaced — fail2ban's substituteRecursiveTags. Nested names work (`<mdre-<mode>>`
 * becomes `<mdre-normal>`, then its value); unknown tags (`<HOST>`, `<F-USER>`, `</F-USER>`)
 * stay as they are. A value that needs itself is an error naming where the tag was written.
 */
export function substituteTags(values: ReadonlyMap<string, SourcedText>, options: TagOptions = {}): Map<string, SourcedText> {
  const tags = new Map(values);
  const ignore = options.ignore ?? new Set<string>();
  const done = new Set<string>();
  const counts = new Map<string, Map<string, number>>();
  const pattern = /<([^ <>]+)>/g;
  const search = (text: string, from: number): RegExpExecArray | null => {
    pattern.lastIndex = from;
    return pattern.exec(text);
  };
  for (let again = true; again; ) {
    again = false;
    for (const tag of values.keys()) {
      if (ignore.has(tag) || done.has(tag)) continue;
      const original = tags.get(tag);
      if (original === undefined) continue;
      let value = original;
      const replaced = counts.get(tag) ?? new Map<string, number>();
      for (let m = search(value.text, 0); m !== null; ) {
        const name = m[1] ?? '';
        if (ignore.has(name)) {
          m = search(value.text, m.index + m[0].length);
          continue;
        }
        if (name === tag) fail(value, m.index, `<${name}> is used inside its own value`);
        if ((replaced.get(name) ?? 1) > MAX_REPLACEMENTS) {
          fail(value, m.index, `<${name}> substituted more than ${MAX_REPLACEMENTS} times in <${tag}> (a loop?)`);
        }
        const replacement = tags.get(name) ?? options.lookup?.(name);
        if (replacement === undefined) {
          m = search(value.text, m.index + m[0].length);
          continue;
        }
        value = replaceAllText(value, m[0], replacement);
        replaced.set(name, (replaced.get(name) ?? 0) + 1);
        m = search(value.text, m.index);
      }
      if (value.text !== original.text) {
        if (search(value.text, 0) !== null) {
          counts.set(tag, replaced);
          again = true;
        }
        tags.set(tag, value);
      }
      if (!value.text.includes('<')) done.add(tag);
    }
  }
  return tags;
}
