/**
 * fail2ban's guard against log injection through a filter expression, on the regex the engine
 * really runs: a run of free text before the address (`.*`, `.+?`, `[^)]*`, `\S+`, `[\w.-]+`:
 * where a user name, a HELO or a command lands) lets a client write an address of its own there,
 * unless everything after the address is pinned — fixed text with no such run in it, up to the
 * end of the line. Then the address is always the last one that can be followed by that text to
 * the end, which is the daemon's.
 *
 * The regex is read structurally (regexpp's tree of the JavaScript translation): the host groups
 * are found by their fail2ban names, runs by their quantifier and the characters they consume.
 * Runs of whitespace or of digits alone cannot carry a forged address and are left alone; runs
 * inside lookarounds consume nothing. A regex may carry an allowance, `(?#guard: reason)`, where
 * the daemon's format makes it safe for a reason the shape cannot show.
 */
import { RegExpParser, type AST } from '@eslint-community/regexpp';
import { getConsumedChars, type ReadonlyFlags } from 'regexp-ast-analysis';
import { readablePattern, translatePythonRegex } from '../../src/filter/index.js';

const HOST_GROUPS = new Set(['ip4', 'ip6', 'dns']);
/** A bounded repetition this long is a run too. */
const LONG_RUN = 16;
const ALLOWANCE = /\(\?#guard: ([^)]{20,})\)/;

export interface AnchoringProblem {
  /** The run before the address, as written in the JavaScript pattern. */
  readonly run: string;
  /** Why what follows the address does not pin it. */
  readonly because: string;
}

export interface AnchoringVerdict {
  readonly problems: readonly AnchoringProblem[];
  /** The reason given by a `(?#guard: …)` allowance, when the regex carries one. */
  readonly allowance?: string;
}

type Kind = 'catch-all' | 'word' | undefined;

const isRun = (q: AST.Quantifier): boolean => q.max === Infinity || q.max >= LONG_RUN;

/** A run that can span words (`.*`) or fill a word with letters (`\S+`); whitespace or digits alone are no threat. */
function runKind(q: AST.Quantifier, flags: ReadonlyFlags): Kind {
  const chars = getConsumedChars(q.element, flags).chars;
  const letters = [...'aAzZ'].some((c) => chars.has(c.codePointAt(0)!));
  if (chars.has(0x20)) return letters || chars.has(0x2e) || chars.has(0x3a) ? 'catch-all' : undefined;
  return letters ? 'word' : undefined;
}

const isLookaround = (node: AST.Node): boolean => node.type === 'Assertion' && (node.kind === 'lookahead' || node.kind === 'lookbehind');

/** Every run inside `node`, lookarounds left out. */
function runsIn(node: AST.Node, flags: ReadonlyFlags, into: { q: AST.Quantifier; kind: Kind }[]): void {
  if (isLookaround(node)) return;
  if (node.type === 'Quantifier' && isRun(node)) {
    const kind = runKind(node, flags);
    if (kind !== undefined) into.push({ q: node, kind });
  }
  for (const child of children(node)) runsIn(child, flags, into);
}

function children(node: AST.Node): AST.Node[] {
  switch (node.type) {
    case 'Pattern':
    case 'Group':
    case 'CapturingGroup':
      return node.alternatives;
    case 'Assertion':
      return node.kind === 'lookahead' || node.kind === 'lookbehind' ? node.alternatives : [];
    case 'Alternative':
      return node.elements;
    case 'Quantifier':
      return [node.element];
    default:
      return [];
  }
}

/** `$`, or the `(?=\n?$)` the translation writes for Python's `$`. */
function isEndAnchor(node: AST.Node): boolean {
  if (node.type === 'Assertion' && node.kind === 'end') return true;
  if (node.type !== 'Assertion' || node.kind !== 'lookahead' || node.negate) return false;
  return node.alternatives.every((alt) => alt.elements.length > 0 && isEndAnchor(alt.elements[alt.elements.length - 1]!));
}

/** Whether every way through `node` ends at the end of the line. */
function endsAnchored(node: AST.Node): boolean {
  if (isEndAnchor(node)) return true;
  if (node.type === 'Group' || node.type === 'CapturingGroup') {
    return node.alternatives.every((alt) => alt.elements.length > 0 && endsAnchored(alt.elements[alt.elements.length - 1]!));
  }
  return false;
}

/** What the pattern holds before and after `node`, level by level up to the root. */
function surroundings(node: AST.Node): { before: AST.Node[]; after: AST.Node[]; repeated: boolean } {
  const before: AST.Node[] = [];
  const after: AST.Node[] = [];
  let repeated = false;
  for (let child: AST.Node = node, parent = node.parent; parent !== null; child = parent, parent = parent.parent) {
    if (parent.type === 'Alternative') {
      const at = parent.elements.indexOf(child as AST.Element);
      before.push(...parent.elements.slice(0, at));
      after.push(...parent.elements.slice(at + 1));
    } else if (parent.type === 'Quantifier' && parent.max > 1) {
      repeated = true;
    }
  }
  return { before, after, repeated };
}

/**
 * Checks one fail2ban regex (tags already expanded, Python syntax): for every host group, a free
 * run before it needs a pinned tail after it.
 */
export function checkHostAnchoring(pythonRegex: string, options: { multiline?: boolean } = {}): AnchoringVerdict {
  const translated = translatePythonRegex(pythonRegex, options.multiline === true ? { multiline: true } : {});
  const flags: ReadonlyFlags = { unicode: translated.flags.includes('u') };
  const pattern = new RegExpParser({ ecmaVersion: 2025 }).parsePattern(translated.source, undefined, undefined, { unicode: true });
  const groups: AST.CapturingGroup[] = [];
  const collect = (node: AST.Node): void => {
    if (node.type === 'CapturingGroup') groups.push(node);
    children(node).forEach(collect);
  };
  collect(pattern);
  groups.sort((a, b) => a.start - b.start);
  const problems = new Map<string, AnchoringProblem>();
  groups.forEach((group, i) => {
    if (!HOST_GROUPS.has(translated.groupNames.get(i + 1) ?? '')) return;
    const { before, after, repeated } = surroundings(group);
    const runs: { q: AST.Quantifier; kind: Kind }[] = [];
    before.forEach((node) => runsIn(node, flags, runs));
    if (runs.length === 0) return;
    const tailRuns: { q: AST.Quantifier; kind: Kind }[] = [];
    after.forEach((node) => runsIn(node, flags, tailRuns));
    const catchAll = tailRuns.find((r) => r.kind === 'catch-all');
    const last = after[after.length - 1];
    let because: string | undefined;
    if (repeated) because = 'the address sits inside a repetition';
    else if (catchAll !== undefined) because = `${readablePattern(catchAll.q.raw)} after the address can take any text`;
    else if (last === undefined || !endsAnchored(last)) because = 'what follows the address does not reach the end of the line';
    if (because === undefined) return;
    for (const { q } of runs) problems.set(q.raw, { run: readablePattern(q.raw), because });
  });
  // Named groups inside a repetition are taken out of the pattern and read back per iteration.
  for (const loop of translated.repeated) {
    if ([...loop.iteration.groupNames.values()].some((name) => HOST_GROUPS.has(name))) {
      problems.set('', { run: readablePattern(loop.iteration.source), because: 'the address sits inside a repetition' });
    }
  }
  const allowance = ALLOWANCE.exec(pythonRegex)?.[1];
  return allowance === undefined ? { problems: [...problems.values()] } : { problems: [...problems.values()], allowance };
}
