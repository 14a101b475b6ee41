import { fileURLToPath } from 'node:url';

/**
 * Child processes run this checkout's code as the calling test itself runs: the built `.js`
 * beside each source when the suite runs as JavaScript (`npm run build:tests`), else the `.ts`
 * under tsx. Loading tsx cost about 0.8 s of CPU a process.
 */
export const RUNS_AS_JS = import.meta.url.endsWith('.js');

/** Node's options for such a child: tsx's loader, or none. */
export const CHILD_LOADER: readonly string[] = RUNS_AS_JS ? [] : ['--import', 'tsx'];

/** The absolute path of a module of this checkout, `path` relative to its root without extension (`src/watch/index`). */
export function sourcePath(path: string): string {
  return fileURLToPath(new URL(`../../${path}.${RUNS_AS_JS ? 'js' : 'ts'}`, import.meta.url));
}

/** Node's arguments to run the helper script `name` (in test/helpers, without extension) in a child process. */
export function helperScript(name: string): string[] {
  return [...CHILD_LOADER, sourcePath(`test/helpers/${name}`)];
}
