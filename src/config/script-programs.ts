// Hand-written: no npm shell parser fits (measured 2026-12 on the 237 distinct commands of fail2ban
// 1.0.2's action.d and ours, tags substituted). shell-quote reads no new line as a separator, runs a `#`
// comment to the end of the input and reads neither backticks nor here-documents: 86 wrong.
// sh-syntax (mvdan/sh in wasm) is async, starts a Go wasm instance per call (74 ms CPU the first,
// ~10 ms each after) and its JSON gives a command as bare positions. mvdan-sh is deprecated by its
// author (and takes 164 ms to load); bash-parser is unmaintained and its fork fails on 11 valid
// scripts. mvdan-sh's full parser agrees with this reader on all 237.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

/** Words in a command's place that name no program: the shell's reserved words. */
const RESERVED = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'for', 'select', 'case', 'esac', 'in', '!', '{', '}', 'function', 'time', '[[', ']]']);

/** The builtins of dash (fail2ban's /bin/sh on Debian) and bash: never looked up on PATH. */
const BUILTINS = new Set([
  ':', '.', '[', 'alias', 'bg', 'break', 'builtin', 'cd', 'command', 'continue', 'declare', 'echo', 'eval', 'exec', 'exit', 'export',
  'false', 'fc', 'fg', 'getopts', 'hash', 'jobs', 'kill', 'let', 'local', 'printf', 'pwd', 'read', 'readonly', 'return', 'set', 'shift',
  'source', 'test', 'times', 'trap', 'true', 'type', 'typeset', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
]);

const ASSIGNMENT = /^[A-Za-z_]\w*\+?=/;
/** A run-time tag left in a script after its static tags are substituted (`<ip>`, `<F-USER>`). */
const TAG = /<[A-Za-z][\w.\-/?=]*>/y;

/** What the next word is: a command's name, its arguments, a case pattern, the subject of `case`, a function's name. */
type Expect = 'command' | 'args' | 'pattern' | 'case' | 'function';

/**
 * Reads a shell script as far as needed to know which programs it runs: the first word of every
 * simple command (after `|`, `||`, `&&`, `;`, `&`, new lines, `(`, `then`, `do`…, and inside
 * `$(…)` and backticks). A word with an expansion or a run-time tag in it is not known before the
 * script runs and is left out; so are assignments, redirections and here-documents.
 */
class ScriptReader {
  at = 0;
  private word = '';
  private inWord = false;
  private dynamic = false;
  private redirect = false;
  private expect: Expect = 'command';
  private cases = 0;
  private depth = 0;
  private readonly heredocs: { delimiter: string; stripTabs: boolean }[] = [];

  constructor(
    private readonly text: string,
    private readonly programs: Set<string>,
  ) {}

  private add(chars: string, dynamic = false): void {
    this.word += chars;
    this.inWord = true;
    this.dynamic ||= dynamic;
  }

  private endWord(): void {
    if (!this.inWord) return;
    const { word, dynamic } = this;
    this.word = '';
    this.inWord = false;
    this.dynamic = false;
    if (this.redirect) {
      this.redirect = false;
      return;
    }
    if (this.expect === 'function') {
      this.expect = 'command';
    } else if (this.expect === 'case') {
      if (word === 'in') this.expect = 'pattern';
    } else if (this.expect === 'pattern') {
      if (word === 'esac') this.end('args');
    } else if (this.expect === 'command') {
      if (ASSIGNMENT.test(word)) return;
      if (word === 'case') {
        this.cases++;
        this.expect = 'case';
      } else if (word === 'esac') {
        this.end('args');
      } else if (word === 'for' || word === 'select') {
        this.expect = 'args';
      } else if (word === 'function') {
        this.expect = 'function';
      } else if (!RESERVED.has(word)) {
        if (!dynamic && !BUILTINS.has(word) && !/[*?]/.test(word)) this.programs.add(word);
        this.expect = 'args';
      }
    }
  }

  private end(expect: Expect): void {
    this.cases = Math.max(0, this.cases - 1);
    this.expect = expect;
  }

  /** A separator: the next word names a command again (in a case, after `;;`, a pattern). */
  private separate(): void {
    this.endWord();
    if (this.expect !== 'pattern' && this.expect !== 'case') this.expect = 'command';
  }

  /** Up to and including the closing `quote`, or the end. */
  private skipTo(quote: string): string {
    const close = this.text.indexOf(quote, this.at);
    const end = close < 0 ? this.text.length : close;
    const skipped = this.text.slice(this.at, end);
    this.at = end + quote.length;
    return skipped;
  }

  /** A nested script (`$(…)`, backticks) read to its end: its commands count too. */
  private nested(stop: ')' | '`'): void {
    const inner = new ScriptReader(this.text, this.programs);
    inner.at = this.at;
    this.at = inner.read(stop);
  }

  /** `$…` from the dollar sign. */
  private dollar(): void {
    const { text } = this;
    this.at++;
    if (text.startsWith('((', this.at)) {
      this.at += 2;
      this.skipTo('))');
    } else if (text.charAt(this.at) === '(') {
      this.at++;
      this.nested(')');
    } else if (text.charAt(this.at) === '{') {
      this.skipTo('}');
    }
    this.add('$', true);
  }

  private tag(): boolean {
    TAG.lastIndex = this.at;
    const match = TAG.exec(this.text);
    if (match === null) return false;
    this.add(match[0], true);
    this.at += match[0].length;
    return true;
  }

  private doubleQuoted(): void {
    const { text } = this;
    this.add('');
    while (this.at < text.length) {
      const c = text.charAt(this.at);
      if (c === '"') {
        this.at++;
        return;
      }
      if (c === '\\') {
        this.add(text.charAt(this.at + 1));
        this.at += 2;
      } else if (c === '$') {
        this.dollar();
      } else if (c === '`') {
        this.at++;
        this.nested('`');
        this.add('', true);
      } else if (c !== '<' || !this.tag()) {
        this.add(c);
        this.at++;
      }
    }
  }

  /** `<`, `>` and their kin at `at`: the word after them is a file (or a here-document's delimiter), not a command. */
  private redirection(): void {
    const { text } = this;
    // `2>&1`: the digits before the operator are a file descriptor.
    if (/^\d+$/.test(this.word)) {
      this.word = '';
      this.inWord = false;
    }
    this.endWord();
    const op = /^(?:&>>?|<<<|<<-?|>>|>&|<&|>\||<>|<|>)/.exec(text.slice(this.at, this.at + 3))?.[0] ?? text.charAt(this.at);
    this.at += op.length;
    if (op === '<<' || op === '<<-') {
      while (text.charAt(this.at) === ' ' || text.charAt(this.at) === '\t') this.at++;
      const word = /^(?:'[^']*'|"[^"]*"|[^\s;&|<>()]+)/.exec(text.slice(this.at))?.[0] ?? '';
      this.at += word.length;
      this.heredocs.push({ delimiter: word.replace(/["'\\]/g, ''), stripTabs: op === '<<-' });
      return;
    }
    this.redirect = true;
  }

  /** After a new line: the bodies of the here-documents begun on the line just ended. */
  private skipHeredocs(): void {
    for (const { delimiter, stripTabs } of this.heredocs.splice(0)) {
      while (this.at < this.text.length) {
        const line = this.skipTo('\n');
        if ((stripTabs ? line.replace(/^\t+/, '') : line) === delimiter) break;
      }
    }
  }

  /** Reads commands up to `stop` (or the end) and returns the offset after it. */
  read(stop: ')' | '`' | '' = ''): number {
    const { text } = this;
    while (this.at < text.length) {
      const c = text.charAt(this.at);
      const next = text.charAt(this.at + 1);
      if (c === stop && (stop === '`' || this.depth === 0) && !(stop === ')' && this.expect === 'pattern')) {
        this.endWord();
        return this.at + 1;
      }
      if (c === ' ' || c === '\t') {
        this.endWord();
        this.at++;
      } else if (c === '\n') {
        this.separate();
        this.at++;
        this.skipHeredocs();
      } else if (c === ';') {
        this.endWord();
        if (next === ';' && this.cases > 0) {
          this.expect = 'pattern';
          this.at += 2;
        } else {
          this.separate();
          this.at++;
        }
      } else if (c === '|') {
        if (this.expect === 'pattern') this.endWord();
        else this.separate();
        this.at += next === '|' ? 2 : 1;
      } else if (c === '&' && next !== '>') {
        this.separate();
        this.at += next === '&' ? 2 : 1;
      } else if (c === '(') {
        this.endWord();
        if (next === '(' && this.expect === 'command') {
          this.at += 2;
          this.skipTo('))');
          this.expect = 'args';
        } else if (next === ')') {
          // `name()`: a function's body follows.
          this.at += 2;
          this.expect = 'command';
        } else {
          if (this.expect !== 'pattern') {
            this.depth++;
            this.expect = 'command';
          }
          this.at++;
        }
      } else if (c === ')') {
        this.endWord();
        if (this.expect === 'pattern') this.expect = 'command';
        else {
          this.depth = Math.max(0, this.depth - 1);
          this.expect = 'args';
        }
        this.at++;
      } else if (c === '<' && this.tag()) {
        continue;
      } else if (c === '<' || c === '>' || c === '&') {
        this.redirection();
      } else if (c === '#' && !this.inWord) {
        const newline = text.indexOf('\n', this.at);
        this.at = newline < 0 ? text.length : newline;
      } else if (c === '\\') {
        if (next !== '\n') this.add(next);
        this.at += 2;
      } else if (c === "'") {
        this.at++;
        this.add(this.skipTo("'"));
      } else if (c === '"') {
        this.at++;
        this.doubleQuoted();
      } else if (c === '`') {
        this.at++;
        this.nested('`');
        this.add('', true);
      } else if (c === '$') {
        this.dollar();
      } else {
        this.add(c);
        this.at++;
      }
    }
    this.endWord();
    return this.at;
  }
}

/** `name() …` and `function name …`: shell functions, which are called like programs. */
const FUNCTION = /\bfunction\s+([A-Za-z_][\w.-]*)|([A-Za-z_][\w.-]*)\s*\(\s*\)/g;

/** The programs `script` runs, by the names it calls them (see ScriptReader): first seen first. */
export function scriptPrograms(script: string): string[] {
  const programs = new Set<string>();
  new ScriptReader(script, programs).read();
  const functions = new Set([...script.matchAll(FUNCTION)].map((match) => match[1] ?? match[2]));
  return [...programs].filter((program) => !functions.has(program));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether `program` (a name or a path) can be run: an executable file, found on `path` (a PATH
 * value) when it is a bare name. A relative path is taken from `/`, where action commands run.
 */
export function onPath(program: string, path: string): boolean {
  if (program.includes('/')) return isExecutable(resolve('/', program));
  return path.split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, program)));
}
