/**
 * The module tests (every folder of test/ but those below) run as two processes, not one per
 * file: each file's process loaded src/ and warmed its JIT up again (measured 2026-12-04, the 92
 * files: 109 s of CPU in these two processes, 116 s in one, 178 s in one per file). The two take
 * longest, so they run first, beside the other tests: `node --test` starts its files in the
 * order of their names, whatever order they are given in, and the leading `_` of
 * test/_units-N.test.ts sorts before every folder's name. Started last, as test/units-N did, the
 * longer one ran on alone for the last 45 s of the suite. A file of a group runs alone as always
 * (`node --import tsx --test test/store/ban-store.test.ts`); sharing a process, it must leave the
 * process as it found it (inTimeZone, not a TZ set for the whole file).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { it } from 'node:test';
import { RUNS_AS_JS } from './script.js';

const TEST = fileURLToPath(new URL('../', import.meta.url));
const EXT = RUNS_AS_JS ? '.test.js' : '.test.ts';

/** Folders whose files each run in a process of their own: they start daemons, firewalls and the CLI, and set up the process for it. */
export const OWN_PROCESS = ['cli', 'contrib', 'integration'];
/**
 * About as long each (each folder alone, 2026-12-04: 74 and 59 s), and each with a folder that
 * mostly waits (watch on journald and files, fleet on PostgreSQL) beside ones that compute.
 */
export const GROUPS = [
  ['backends', 'config', 'core', 'daemon', 'engine', 'metrics', 'reconcile', 'watch'],
  ['filter', 'filters', 'fleet', 'store'],
] as const;

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(EXT))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

/** Imports every test file of group `n` (1 or 2): their tests run in this process, file after file. */
export async function runGroup(n: 1 | 2): Promise<void> {
  const folders = GROUPS[n - 1]!;
  if (n === 1) {
    it('every folder of test/ with test files runs, in a group or in processes of its own', () => {
      const withTests = readdirSync(TEST, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && testFiles(join(TEST, entry.name)).length > 0).map((entry) => entry.name).sort();
      assert.deepEqual(withTests, [...OWN_PROCESS, ...GROUPS.flat()].sort());
      const scripts = (JSON.parse(readFileSync(join(TEST, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
      assert.ok(scripts['test:all']?.includes(`test/_units-*.test.js $(find ${OWN_PROCESS.map((f) => `test/${f}`).join(' ')} `), scripts['test:all']);
    });
  }
  for (const folder of folders) {
    for (const file of testFiles(join(TEST, folder))) await import(pathToFileURL(file).href);
  }
}
