/**
 * Statements (or anything the functions of `make` make) made at their first use, then kept: a
 * command runs a handful of the store's sixty statements, and preparing them all at every open
 * cost about 3 ms of CPU at every command's start.
 */
export function preparedOnUse<T extends Record<string, () => unknown>>(make: T): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const made = {};
  for (const [key, create] of Object.entries(make)) {
    Object.defineProperty(made, key, {
      configurable: true,
      enumerable: true,
      get: () => {
        const value = create();
        Object.defineProperty(made, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return made as { readonly [K in keyof T]: ReturnType<T[K]> };
}
