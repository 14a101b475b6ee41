import { closest, distance } from 'fastest-levenshtein';

/**
 * The word of `known` nearest to `word`, when it is at most `edits` away and the edits change
 * less than half of `word` (a one-letter word suggests nothing); never `word` itself.
 */
export function nearest(word: string, known: Iterable<string>, edits = 2): string | undefined {
  const candidates = [...known];
  if (candidates.length === 0) return undefined;
  const near = closest(word, candidates);
  const d = distance(word, near);
  return d > 0 && d <= Math.min(edits, Math.floor(word.length / 2)) ? near : undefined;
}

/** ` (did you mean X?)` for a near word of `known`, else '' (or, with `list`, ` (known: a, b)`). */
export function didYouMean(word: string, known: readonly string[], list = false): string {
  const near = nearest(word, known);
  if (near !== undefined) return ` (did you mean ${near}?)`;
  return list ? ` (known: ${known.join(', ')})` : '';
}
