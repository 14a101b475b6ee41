import { fileURLToPath } from 'node:url';

/**
 * Node's arguments to run the helper script `name` (in test/helpers, without extension) in a child
 * process, as the calling test itself runs: its built `.js` when the suite runs as JavaScript
 * (`npm run build:tests`), else its `.ts` under tsx. Loading tsx cost about 0.8 s of CPU a process.
 */
export function helperScript(name: string): string[] {
  const js = import.meta.url.endsWith('.js');
  const path = fileURLToPath(new URL(`./${name}.${js ? 'js' : 'ts'}`, import.meta.url));
  return js ? [path] : ['--import', 'tsx', path];
}
