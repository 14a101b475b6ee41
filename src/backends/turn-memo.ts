/**
 * What a backend read of the firewall, kept for a second look in the same turn of the event loop
 * and no longer: the drift tick's structural check and its count follow each other without
 * waiting on anything, and one read then serves both. Ticks are seconds apart, so the next tick
 * reads afresh. The backend clears it before each command it runs, since a command may change
 * what was read.
 */
export interface TurnMemo<T> {
  get(): T | undefined;
  /** Keeps `value` until the event loop turns or clear(); returns it. */
  set(value: T): T;
  clear(): void;
  /** `run`, clearing this memo before each call: a command the backend runs may change what was read. */
  clearingBefore<A extends unknown[], R>(run: (...args: A) => R): (...args: A) => R;
}

export function turnMemo<T>(): TurnMemo<T> {
  let kept: { readonly value: T } | undefined;
  return {
    get: () => kept?.value,
    set(value) {
      const held = { value };
      kept = held;
      setImmediate(() => {
        if (kept === held) kept = undefined;
      });
      return value;
    },
    clear() {
      kept = undefined;
    },
    clearingBefore: (run) => (...args) => {
      kept = undefined;
      return run(...args);
    },
  };
}
