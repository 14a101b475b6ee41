import { foldedPoints } from './python-case-fold.js';
import type { Node } from './python-regex-syntax.js';

/**
 * How a regex that can only match at the start of the text (`^`, `\A` on every path: fail2ban's
 * failregexes after the prefregex) must begin, for a test cheaper than running it. A RegExp
 * anchored so fails fast by itself, but most lines fail every such regex of a filter, and a
 * `startsWith` or one table look-up per regex is cheaper still than the call.
 */
export interface StartTest {
  /** Text every match begins with (case-sensitive), or '' when none is known. */
  readonly prefix: string;
  /** The UTF-16 code units a match can begin with; undefined when any can. */
  readonly firstUnits: ReadonlySet<number> | undefined;
}

/** A start test for `root`, or undefined when a match may begin elsewhere, or be empty. */
export function startTest(root: Node): StartTest | undefined {
  if (!anchoredAtStart(root)) return undefined;
  const first = firstUnits(root);
  const prefix = literalPrefix(root)?.text ?? '';
  if (prefix === '' && (first.units === undefined || first.nullable)) return undefined;
  return { prefix, firstUnits: first.nullable ? undefined : first.units };
}

/** Whether every match of `node` asserts the start of the text, so begins there. */
function anchoredAtStart(node: Node): boolean {
  switch (node.kind) {
    case 'anchor':
      return node.at === 'start';
    case 'fail':
      return true;
    case 'seq':
      // Whatever comes before the anchor on a path that matches consumed nothing.
      return node.items.some(anchoredAtStart);
    case 'alt':
      return node.options.every(anchoredAtStart);
    case 'cond':
      return anchoredAtStart(node.yes) && anchoredAtStart(node.no);
    case 'group':
    case 'atomic':
      return anchoredAtStart(node.body);
    case 'repeat':
      return node.min > 0 && anchoredAtStart(node.body);
    default:
      return false;
  }
}

/** More than this many code points in a set: not worth a table. */
const MAX_SET_UNITS = 512;

interface FirstUnits {
  /** Undefined: any code unit. */
  readonly units: Set<number> | undefined;
  /** The node can match without consuming anything. */
  readonly nullable: boolean;
}

const ANY: FirstUnits = { units: undefined, nullable: true };

/** The first UTF-16 unit of a code point (a surrogate for those above the BMP). */
const firstUnit = (cp: number): number => String.fromCodePoint(cp).charCodeAt(0);

/** Lookarounds and anchors consume nothing: what follows them decides the first unit (a superset). */
function firstUnits(node: Node): FirstUnits {
  switch (node.kind) {
    case 'empty':
    case 'anchor':
    case 'look':
      return { units: new Set(), nullable: true };
    case 'fail':
      return { units: new Set(), nullable: false };
    case 'char':
      return { units: new Set((node.fold ? foldedPoints(node.cp, node.ascii) : [node.cp]).map(firstUnit)), nullable: false };
    case 'set':
      return { units: setUnits(node), nullable: false };
    case 'group':
    case 'atomic':
      return firstUnits(node.body);
    case 'repeat': {
      const body = firstUnits(node.body);
      return node.min === 0 ? { units: body.units, nullable: true } : body;
    }
    case 'seq': {
      const units = new Set<number>();
      for (const item of node.items) {
        const first = firstUnits(item);
        if (first.units === undefined) return ANY;
        for (const unit of first.units) units.add(unit);
        if (!first.nullable) return { units, nullable: false };
      }
      return { units, nullable: true };
    }
    case 'alt':
    case 'cond': {
      const units = new Set<number>();
      let nullable = false;
      for (const option of node.kind === 'alt' ? node.options : [node.yes, node.no]) {
        const first = firstUnits(option);
        if (first.units === undefined) return ANY;
        for (const unit of first.units) units.add(unit);
        nullable ||= first.nullable;
      }
      return { units, nullable };
    }
    default:
      return ANY;
  }
}

function setUnits(node: Extract<Node, { kind: 'set' }>): Set<number> | undefined {
  if (node.negate) return undefined;
  const units = new Set<number>();
  let size = 0;
  for (const item of node.items) {
    if (item.kind === 'class') return undefined;
    size += item.hi - item.lo + 1;
    if (size > MAX_SET_UNITS) return undefined;
    for (let cp = item.lo; cp <= item.hi; cp++) {
      for (const variant of node.fold ? foldedPoints(cp, node.ascii) : [cp]) units.add(firstUnit(variant));
    }
  }
  return units;
}

/** The literal text every match of `node` begins with; `complete` when that is all it matches. */
function literalPrefix(node: Node): { readonly text: string; readonly complete: boolean } | undefined {
  switch (node.kind) {
    case 'empty':
    case 'anchor':
    case 'look':
      return { text: '', complete: true };
    case 'fail':
      // Never matches: places no condition on the text.
      return undefined;
    case 'char':
      return node.fold && foldedPoints(node.cp, node.ascii).length > 1
        ? { text: '', complete: false }
        : { text: String.fromCodePoint(node.cp), complete: true };
    case 'group':
    case 'atomic':
      return literalPrefix(node.body);
    case 'repeat': {
      const body = node.min > 0 ? literalPrefix(node.body) : undefined;
      if (node.min > 0 && body === undefined) return undefined;
      return { text: body?.text ?? '', complete: node.min === 1 && node.max === 1 && body?.complete === true };
    }
    case 'seq': {
      let text = '';
      for (const item of node.items) {
        const prefix = literalPrefix(item);
        if (prefix === undefined) return undefined;
        text += prefix.text;
        if (!prefix.complete) return { text, complete: false };
      }
      return { text, complete: true };
    }
    case 'alt':
    case 'cond': {
      const options = (node.kind === 'alt' ? node.options : [node.yes, node.no]).map(literalPrefix).filter((p) => p !== undefined);
      if (options.length === 0) return undefined;
      let text = options[0]?.text ?? '';
      for (const option of options) while (!option.text.startsWith(text)) text = text.slice(0, -1);
      return { text, complete: options.every((option) => option.complete && option.text === text) };
    }
    default:
      return { text: '', complete: false };
  }
}
