import { childNodes, regexError } from './python-regex-syntax.js';
import type { Node } from './python-regex-syntax.js';

/**
 * JavaScript has no `(?(group)yes|no)`, and its backreference to a group that did not take part
 * matches the empty string where Python's fails. Both depend only on which of the referenced
 * groups have taken part so far, so the tree is expanded into alternatives that each know that
 * set: a conditional picks its branch, a backreference becomes a plain one or a failure. The
 * alternatives keep Python's priority order, so the same match wins.
 */

/** Bit set over the referenced groups: which of them have taken part on this path. */
type State = number;
type Branch = readonly [Node, State];

const MAX_TRACKED = 8;
const EMPTY: Node = { kind: 'empty' };
const FAIL: Node = { kind: 'fail' };

/** `root` rewritten without conditionals, with every backreference certain to have its group. */
export function resolveGroupTests(root: Node, source: string): Node {
  const referenced = new Set<number>();
  collectReferences(root, referenced);
  if (referenced.size === 0) return root;
  if (referenced.size > MAX_TRACKED) {
    throw regexError(source, `more than ${MAX_TRACKED} groups used by conditionals or backreferences`);
  }
  const bits = new Map<number, number>();
  for (const index of referenced) bits.set(index, 1 << bits.size);
  return alternatives(new Expander(bits, source).expand(root, 0));
}

function collectReferences(node: Node, into: Set<number>): void {
  if (node.kind === 'backref' || node.kind === 'cond') into.add(node.index);
  for (const child of childNodes(node)) collectReferences(child, into);
}


class Expander {
  private readonly seqMemo = new WeakMap<readonly Node[], Map<string, readonly Branch[]>>();
  private readonly touchMemo = new WeakMap<Node, boolean>();

  constructor(
    private readonly bits: ReadonlyMap<number, number>,
    private readonly source: string,
  ) {}

  /** The alternatives `node` splits into when entered in `state`, in Python's priority order. */
  expand(node: Node, state: State): readonly Branch[] {
    if (!this.touches(node)) return [[node, state]];
    switch (node.kind) {
      case 'seq':
        return this.sequence(node.items, 0, state);
      case 'alt':
        return merge(node.options.flatMap((option) => this.expand(option, state)));
      case 'group': {
        const bit = node.index === undefined ? 0 : (this.bits.get(node.index) ?? 0);
        return merge(this.expand(node.body, state)).map(([body, after]) => [{ ...node, body }, after | bit]);
      }
      case 'cond':
        return this.expand((state & this.bit(node.index)) !== 0 ? node.yes : node.no, state);
      case 'backref':
        return [[(state & this.bit(node.index)) !== 0 ? node : FAIL, state]];
      case 'look':
        if (node.negate) return [[{ ...node, body: alternatives(this.expand(node.body, state)) }, state]];
        return [this.unsplit(node, state)];
      case 'atomic':
        return [this.unsplit(node, state)];
      case 'repeat':
        return this.repeat(node, state);
      default:
        return [[node, state]];
    }
  }

  private bit(index: number): number {
    return this.bits.get(index) ?? 0;
  }

  /** Whether anything below `node` defines or tests a referenced group. */
  private touches(node: Node): boolean {
    const known = this.touchMemo.get(node);
    if (known !== undefined) return known;
    const result =
      node.kind === 'backref' ||
      node.kind === 'cond' ||
      (node.kind === 'group' && node.index !== undefined && this.bits.has(node.index)) ||
      childNodes(node).some((child) => this.touches(child));
    this.touchMemo.set(node, result);
    return result;
  }

  private defines(node: Node): boolean {
    if (node.kind === 'group' && node.index !== undefined && this.bits.has(node.index)) return true;
    return childNodes(node).some((child) => this.defines(child));
  }

  private sequence(items: readonly Node[], from: number, state: State): readonly Branch[] {
    const item = items[from];
    if (item === undefined) return [[EMPTY, state]];
    let memo = this.seqMemo.get(items);
    if (memo === undefined) {
      memo = new Map();
      this.seqMemo.set(items, memo);
    }
    const key = `${from}:${state}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    const result: Branch[] = [];
    for (const [head, after] of this.expand(item, state)) {
      for (const [rest, end] of this.sequence(items, from + 1, after)) result.push([concat(head, rest), end]);
    }
    const merged = merge(result);
    memo.set(key, merged);
    return merged;
  }

  /** Lookarounds and atomic groups never backtrack into their body, so it must not split. */
  private unsplit(node: Extract<Node, { kind: 'look' | 'atomic' }>, state: State): Branch {
    const branches = this.expand(node.body, state);
    const after = new Set(branches.map(([, end]) => end));
    const [only] = after;
    if (after.size !== 1 || only === undefined) {
      throw regexError(
        this.source,
        'a group tested by a conditional or backreference is set inside a lookaround or atomic group',
      );
    }
    return [{ ...node, body: alternatives(branches) }, only];
  }

  private repeat(node: Extract<Node, { kind: 'repeat' }>, state: State): readonly Branch[] {
    if (!this.defines(node.body)) {
      return [[{ ...node, body: alternatives(this.expand(node.body, state)) }, state]];
    }
    if (node.min === 1 && node.max === 1 && node.mode !== 'possessive') return this.expand(node.body, state);
    if (node.min === 0 && node.max === 1 && node.mode !== 'possessive') {
      const once = this.expand(node.body, state);
      const skip: Branch = [EMPTY, state];
      return merge(node.mode === 'greedy' ? [...once, skip] : [skip, ...once]);
    }
    throw regexError(this.source, 'a group tested by a conditional or backreference is set inside a repetition');
  }
}

/** Joins neighbouring branches that end in the same state (order, hence priority, is kept). */
function merge(branches: readonly Branch[]): readonly Branch[] {
  const out: Branch[] = [];
  for (const [node, state] of branches) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === state) out[out.length - 1] = [alternatives([last, [node, state]]), state];
    else out.push([node, state]);
  }
  return out;
}

function alternatives(branches: readonly Branch[]): Node {
  const options = branches.flatMap(([node]) => (node.kind === 'alt' ? node.options : [node]));
  if (options.length === 1 && options[0] !== undefined) return options[0];
  return { kind: 'alt', options };
}

function concat(a: Node, b: Node): Node {
  const items = [...flatten(a), ...flatten(b)];
  if (items.length === 0) return EMPTY;
  if (items.length === 1 && items[0] !== undefined) return items[0];
  return { kind: 'seq', items };
}

function flatten(node: Node): readonly Node[] {
  if (node.kind === 'empty') return [];
  return node.kind === 'seq' ? node.items : [node];
}
