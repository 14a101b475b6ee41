/** A place in a configuration file; `line` 0 means "not from a file line" (e.g. a command-line argument). */
export interface Origin {
  readonly file: string;
  readonly line: number;
}

/** One line of resolved configuration text and where it was written. */
export interface SourceLine extends Origin {
  readonly text: string;
}

/** From offset `at` on, the text came from `file:line` through `depth` expansions (`%(x)s`, `<tag>`). */
interface Mark extends Origin {
  readonly at: number;
  readonly depth: number;
}

/**
 * Text assembled from configuration files by interpolation and tag substitution, remembering
 * where every part of it was written. `marks` is sorted by `at`, never empty, and starts at 0.
 */
export interface SourcedText {
  readonly text: string;
  readonly marks: readonly Mark[];
}

/** `file:line`, or just `file` for a place that is not a file line. */
export function where(origin: Origin): string {
  return origin.line > 0 ? `${origin.file}:${origin.line}` : origin.file;
}

/** Text written at one place. */
export function textAt(text: string, origin: Origin): SourcedText {
  return { text, marks: [{ at: 0, depth: 0, file: origin.file, line: origin.line }] };
}

/** The lines of one option value as read from `file` (continuation lines joined with `\n`). */
export function textOfLines(lines: readonly { readonly text: string; readonly line: number }[], file: string): SourcedText {
  const marks: Mark[] = [];
  let text = '';
  for (const [i, l] of lines.entries()) {
    if (i > 0) text += '\n';
    marks.push({ at: text.length, depth: 0, file, line: l.line });
    text += l.text;
  }
  return { text, marks: compact(marks) };
}

/** Keeps the last of several marks at one offset: the earlier ones cover no text. */
function compact(marks: readonly Mark[]): Mark[] {
  const out: Mark[] = [];
  for (const mark of marks) {
    if (out.length > 0 && out[out.length - 1]?.at === mark.at) out.pop();
    out.push(mark);
  }
  return out;
}

function markIndexAt(t: SourcedText, offset: number): number {
  let lo = 0;
  let hi = t.marks.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((t.marks[mid]?.at ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function markAt(t: SourcedText, offset: number): Mark {
  const mark = t.marks[markIndexAt(t, offset)];
  if (mark === undefined) throw new Error('sourced text without marks');
  return mark;
}

/** Where the character at `offset` was written, and through how many expansions. */
export function originAt(t: SourcedText, offset: number): Origin & { readonly depth: number } {
  return markAt(t, offset);
}

/** The text of the source line the character at `offset` belongs to, for error messages. */
export function lineTextAt(t: SourcedText, offset: number): string {
  const start = t.text.lastIndexOf('\n', offset - 1) + 1;
  const end = t.text.indexOf('\n', offset);
  return t.text.slice(start, end < 0 ? t.text.length : end).trim();
}

export function sliceText(t: SourcedText, start: number, end: number): SourcedText {
  const first = markIndexAt(t, start);
  const marks: Mark[] = [];
  for (let i = first; i < t.marks.length; i++) {
    const mark = t.marks[i];
    if (mark === undefined || (i > first && mark.at >= end)) break;
    marks.push({ ...mark, at: Math.max(0, mark.at - start) });
  }
  return { text: t.text.slice(start, end), marks };
}

/** `t` as inserted `by` expansion levels deeper. */
export function nested(t: SourcedText, by: number): SourcedText {
  return { text: t.text, marks: t.marks.map((m) => ({ ...m, depth: m.depth + by })) };
}

/** Joins texts; `parts` must not be empty. */
export function concatText(parts: readonly SourcedText[]): SourcedText {
  const marks: Mark[] = [];
  let text = '';
  for (const part of parts) {
    for (const mark of part.marks) marks.push({ ...mark, at: mark.at + text.length });
    text += part.text;
  }
  return { text, marks: compact(marks) };
}

/**
 * Replaces every `needle` with `replacement`, which counts as one expansion deeper than the
 * place of each occurrence.
 */
export function replaceAllText(t: SourcedText, needle: string, replacement: SourcedText): SourcedText {
  const parts: SourcedText[] = [];
  let from = 0;
  for (let at = t.text.indexOf(needle); at >= 0; at = t.text.indexOf(needle, at + needle.length)) {
    parts.push(sliceText(t, from, at), nested(replacement, markAt(t, at).depth + 1));
    from = at + needle.length;
  }
  if (parts.length === 0) return t;
  parts.push(sliceText(t, from, t.text.length));
  return concatText(parts);
}

/**
 * The text split into lines, each attributed to the least expanded place that wrote part of it:
 * a line brought in whole by `%(cmnfailre)s` belongs to the line of `cmnfailre` that holds it,
 * a line written around a `%(__prefix_line)s` belongs to the line that wrote it.
 */
export function sourceLines(t: SourcedText): SourceLine[] {
  const lines: SourceLine[] = [];
  let start = 0;
  for (const text of t.text.split('\n')) {
    const end = start + text.length;
    let best = markAt(t, start);
    let bestHasText = false;
    for (let i = markIndexAt(t, start); i < t.marks.length; i++) {
      const mark = t.marks[i];
      if (mark === undefined || mark.at >= end) break;
      const covers = Math.min(end, t.marks[i + 1]?.at ?? end) - Math.max(start, mark.at) > 0;
      if (covers && (!bestHasText || mark.depth < best.depth)) {
        best = mark;
        bestHasText = true;
      }
    }
    lines.push({ text, file: best.file, line: best.line });
    start = end + 1;
  }
  return lines;
}

/** The whole text, attributed to the place of its first non-empty line. */
export function asSourceLine(t: SourcedText): SourceLine {
  const lines = sourceLines(t);
  const first = lines.find((l) => l.text.trim() !== '') ?? lines[0] ?? markAt(t, 0);
  return { text: t.text, file: first.file, line: first.line };
}
