/**
 * Fills the run-time tags of an action.d shell script without ever letting their text reach the
 * shell's parser. A value that is not plain (letters, digits, `_.:@%+,=-`) is passed as a
 * positional parameter of `sh -c` and the tag becomes a reference to a shell variable holding
 * it, so `$(…)`, backticks, `;`, quotes and new lines in a log line are data, never code: the
 * script text depends only on the action file. How the reference is written depends on where
 * the tag stands (fail2ban 1.0.2 writes `$var` everywhere, and pastes a value without shell
 * characters as it is, spaces included, so `user=<F-USER> cmd` runs a word of a user name):
 *
 * - unquoted: `"${var}"`, one word, exactly the value (no splitting, no globbing);
 * - inside "…" or a here-document: `${var}`, exactly the value;
 * - inside '…': `${var}` stays as this literal text. Single quotes usually hold a program for
 *   another interpreter (awk, sed, sql), where the value could be code again, so only a plain
 *   value is put there, as fail2ban does.
 *
 * A wrong guess of the quoting can only make a value look different or split into words (as in
 * fail2ban); its text never becomes shell code.
 */

/** Where a tag stands in the script. */
export type TagContext = 'unquoted' | 'double' | 'single' | 'other';

/** A script split at its tags: literal text and tags, in order. */
export type TemplatePart = { readonly text: string } | { readonly tag: string; readonly context: TagContext };

/** A value for a tag; `trusted` values (addresses, numbers made by us) are written into the script when plain. */
export interface TagValue {
  readonly text: string;
  readonly trusted?: boolean;
}

/** The shell invocation: `/bin/sh -c script NAME value…`. */
export interface ShellInvocation {
  readonly script: string;
  /** `$1`, `$2`… of the script. */
  readonly params: readonly string[];
}

const PLAIN = /^[A-Za-z0-9_.:@%+,=-]*$/;
const PLAIN_TRUSTED = /^[A-Za-z0-9_.:@%+,=/-]*$/;
/** One argument of a command may not exceed 128 KiB on Linux; a longer value is cut. */
const MAX_VALUE_BYTES = 64 * 1024;

type Frame = 'top' | 'single' | 'double' | 'command' | 'paren' | 'backtick' | 'brace' | 'arith' | 'comment';

const CONTEXT: Readonly<Record<Frame, TagContext>> = {
  top: 'unquoted', command: 'unquoted', paren: 'unquoted', backtick: 'unquoted',
  double: 'double', single: 'single', brace: 'other', arith: 'other', comment: 'other',
};
const UNQUOTED: ReadonlySet<Frame> = new Set(['top', 'command', 'paren', 'backtick']);
const WORD_BREAK = /[\s;&|()<>]/;

interface Heredoc {
  readonly delimiter: string;
  readonly stripTabs: boolean;
}

/** Reads a here-document's delimiter word after `<<`/`<<-`; returns it and where it ends. */
function heredocDelimiter(text: string, from: number): { word: string; end: number } {
  let at = from;
  while (text.charAt(at) === ' ' || text.charAt(at) === '\t') at++;
  let word = '';
  for (let quote = ''; at < text.length; at++) {
    const c = text.charAt(at);
    if (quote !== '') {
      if (c === quote) quote = '';
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '\\') {
      word += text.charAt(++at);
    } else if (WORD_BREAK.test(c)) {
      break;
    } else {
      word += c;
    }
  }
  return { word, end: at };
}

/** The tag name at `at` when a run-time tag `<name>` starts there. */
type TagFinder = (text: string, at: number) => string | undefined;

function splitText(text: string, tagAt: TagFinder, context: TagContext, parts: TemplatePart[]): void {
  let from = 0;
  for (let at = text.indexOf('<'); at >= 0; at = text.indexOf('<', at + 1)) {
    const tag = tagAt(text, at);
    if (tag === undefined) continue;
    if (at > from) parts.push({ text: text.slice(from, at) });
    parts.push({ tag, context });
    from = at + tag.length + 2;
    at = from - 1;
  }
  if (from < text.length) parts.push({ text: text.slice(from) });
}

/** Reads the here-document bodies after the new line at `at` into `parts`; returns where the script goes on. */
function readHeredocs(text: string, at: number, pending: readonly Heredoc[], parts: TemplatePart[], tagAt: TagFinder): number {
  let line = at + 1;
  for (const doc of pending) {
    while (line <= text.length) {
      const end = text.indexOf('\n', line) < 0 ? text.length : text.indexOf('\n', line);
      const content = text.slice(line, end);
      splitText(content, tagAt, 'other', parts);
      if (end < text.length) parts.push({ text: '\n' });
      line = end + 1;
      if ((doc.stripTabs ? content.replace(/^\t+/, '') : content) === doc.delimiter) break;
    }
  }
  return line - 1;
}

/**
 * Splits `script` at its run-time tags (those `isTag` names), noting for each whether it stands
 * unquoted, in "…", in '…' or elsewhere (`${…}`, `$((…))`, here-documents, comments). A small
 * reader of POSIX shell quoting: quotes, backslashes, `$(…)`, backticks, here-documents.
 */
export function parseTemplate(script: string, isTag: (name: string) => boolean): TemplatePart[] {
  const tagAt: TagFinder = (text, at) => {
    const match = /<([^ <>]+)>/y;
    match.lastIndex = at;
    const name = match.exec(text)?.[1];
    return name !== undefined && isTag(name) ? name : undefined;
  };
  const parts: TemplatePart[] = [];
  const stack: Frame[] = ['top'];
  let pending: Heredoc[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') parts.push({ text });
    text = '';
  };
  for (let at = 0; at < script.length; at++) {
    const frame = stack[stack.length - 1] ?? 'top';
    const tag = script.charAt(at) === '<' ? tagAt(script, at) : undefined;
    if (tag !== undefined) {
      flush();
      parts.push({ tag, context: CONTEXT[frame] });
      at += tag.length + 1;
      continue;
    }
    const c = script.charAt(at);
    const next = script.charAt(at + 1);
    text += c;
    if (frame === 'single') {
      if (c === "'") stack.pop();
    } else if (frame === 'comment') {
      if (c === '\n') {
        stack.pop();
        at--;
        text = text.slice(0, -1);
      }
    } else if (c === '\\') {
      const escaped = tagAt(script, at + 1);
      if (escaped === undefined) {
        text += next;
        at++;
      } else {
        // `\<matches>` means the value (fail2ban pastes it after the backslash, which then escapes
        // its first character): the backslash goes, or it would make `${var}` literal text.
        text = text.slice(0, -1);
        flush();
        parts.push({ tag: escaped, context: CONTEXT[frame] });
        at += escaped.length + 2;
      }
    } else if (frame === 'double' && c === '"') {
      stack.pop();
    } else if (c === '$' && next === '(') {
      const arith = script.charAt(at + 2) === '(';
      stack.push(arith ? 'arith' : 'command');
      text += arith ? '((' : '(';
      at += arith ? 2 : 1;
    } else if (c === '$' && next === '{') {
      stack.push('brace');
      text += next;
      at++;
    } else if (c === '`') {
      if (frame === 'backtick') stack.pop();
      else stack.push('backtick');
    } else if (frame === 'brace') {
      if (c === '}') stack.pop();
      else if (c === '"') stack.push('double');
      else if (c === "'") stack.push('single');
    } else if (frame === 'arith') {
      if (c === ')' && next === ')') {
        stack.pop();
        text += next;
        at++;
      }
    } else if (frame === 'double') {
      // Nothing else is special inside "…".
    } else if (c === "'") {
      stack.push('single');
    } else if (c === '"') {
      stack.push('double');
    } else if (c === '(') {
      stack.push('paren');
    } else if (c === ')') {
      if (frame === 'paren' || frame === 'command') stack.pop();
    } else if (c === '#' && (at === 0 || WORD_BREAK.test(script.charAt(at - 1)))) {
      stack.push('comment');
    } else if (c === '<' && next === '<' && script.charAt(at + 2) !== '<') {
      const stripTabs = script.charAt(at + 2) === '-';
      const { word, end } = heredocDelimiter(script, at + (stripTabs ? 3 : 2));
      if (word !== '') pending.push({ delimiter: word, stripTabs });
      text += script.slice(at + 1, end);
      at = end - 1;
    } else if (c === '\n' && pending.length > 0 && UNQUOTED.has(frame)) {
      flush();
      at = readHeredocs(script, at, pending, parts, tagAt);
      pending = [];
    }
  }
  flush();
  return parts;
}

function variableOf(tag: string): string {
  return `f2bV_${tag.replace(/\W/g, '_')}`;
}

function shortened(value: string): string {
  const clean = value.replace(/\0/g, '');
  if (Buffer.byteLength(clean) <= MAX_VALUE_BYTES) return clean;
  return Buffer.from(clean).subarray(0, MAX_VALUE_BYTES).toString('utf8').replace(/\uFFFD$/, '');
}

/**
 * The script with its tags filled by `values` (tags without a value stay as written, as in
 * fail2ban), and the parameters carrying the values that are not plain.
 */
export function fillTemplate(parts: readonly TemplatePart[], values: (tag: string) => TagValue | undefined): ShellInvocation {
  const params: string[] = [];
  const assigned = new Map<string, string>();
  let body = '';
  for (const part of parts) {
    if ('text' in part) {
      body += part.text;
      continue;
    }
    const value = values(part.tag);
    if (value === undefined) {
      body += `<${part.tag}>`;
      continue;
    }
    if ((value.trusted ? PLAIN_TRUSTED : PLAIN).test(value.text)) {
      body += value.text;
      continue;
    }
    const name = variableOf(part.tag);
    if (!assigned.has(name)) {
      params.push(shortened(value.text));
      assigned.set(name, `${name}=\${${params.length}}`);
    }
    body += part.context === 'unquoted' ? `"\${${name}}"` : `\${${name}}`;
  }
  const script = assigned.size === 0 ? body : `${[...assigned.values()].join(' ')}\n${body}`;
  return { script, params };
}
