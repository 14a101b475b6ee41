// Not `createRequire`: the build's banner declares that name in every chunk.
import { createRequire as requireFrom } from 'node:module';
import type * as CliProgress from 'cli-progress';

/**
 * cli-progress (with string-width and emoji-regex, ~50 KB) is loaded from node_modules when a bar
 * is drawn, not bundled into every import: scripts and pipes never draw one.
 */
const load = requireFrom(import.meta.url);

/** Fewer items than this are done before a bar would be worth drawing. */
const MIN_ITEMS = 10_000;
const STEP = 1_000;

/** Whether withProgress draws anything: only on a terminal, where a person may be waiting. */
export function progressShown(): boolean {
  return process.stderr.isTTY;
}

/**
 * Yields `items` (`total` of them), drawing a progress bar on stderr meanwhile when there are many
 * and stderr is a terminal: scripts, pipes and logs see nothing of it.
 */
export function* withProgress<T>(items: Iterable<T>, total: number, label: string): Generator<T> {
  if (!progressShown() || total < MIN_ITEMS) {
    yield* items;
    return;
  }
  const bar = new (load('cli-progress') as typeof CliProgress).SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total}`, stream: process.stderr });
  bar.start(total, 0);
  try {
    let done = 0;
    for (const item of items) {
      yield item;
      if (++done % STEP === 0) bar.update(done);
    }
    bar.update(done);
  } finally {
    bar.stop();
  }
}
