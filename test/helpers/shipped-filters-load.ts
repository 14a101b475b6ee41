/**
 * Child process of test/filter/backtracking.test.ts: compiles every filter shipped with f2b-store,
 * in every mode and log type, as a daemon, `test-filter` or `check` compiles one, and prints as
 * JSON which of them made the process load the backtracking analysis (regexpp, refa,
 * regexp-ast-analysis) and the repeated groups it then found uncleared. A process of its own: the
 * analysis, once loaded, stays in the module cache.
 */
import { createRequire } from 'node:module';
import { loadFilter, SHIPPED_FILTER_DIR, type FilterDefinition } from '../../src/config/index.js';
import { compileFailRegex, LogFilter, type UseDns } from '../../src/filter/index.js';
import { unclearedGroups } from '../../src/filter/backtracking.js';
import { modesOf, SHIPPED_FILTERS } from './shipped-filter-list.js';

const ANALYSIS = /\/node_modules\/(?:@eslint-community\/regexpp|refa|regexp-ast-analysis)\//;
const cache = createRequire(import.meta.url).cache;
const analysisLoaded = (): boolean => Object.keys(cache).some((path) => ANALYSIS.test(path));

/** The uncleared groups of a definition's regexes, compiled as LogFilter compiles them. */
function uncleared(definition: FilterDefinition): string[] {
  const useDns = (definition.options.usedns ?? 'warn') as UseDns;
  const prefregex = definition.prefregex && compileFailRegex(definition.prefregex.text, { kind: 'prefregex', useDns });
  const compiled = [
    ...(prefregex ? [prefregex] : []),
    ...definition.failregex.map((source) => compileFailRegex(source.text, {
      kind: 'failregex', multiline: definition.maxlines > 1, useDns, ...(prefregex ? { prefregex } : {}),
    })),
    ...definition.ignoreregex.map((source) => compileFailRegex(source.text, { kind: 'ignoreregex', useDns })),
  ];
  return compiled.flatMap((regex) => unclearedGroups(regex.javascript).map((group) => `['${regex.javascript.flags}', String.raw\`${group}\`],`));
}

const loading: { filter: string; groups: string[] }[] = [];
for (const name of SHIPPED_FILTERS) {
  for (const mode of modesOf(name)) {
    for (const logtype of ['file', 'journal', 'rfc5424']) {
      const definition = loadFilter(name, [SHIPPED_FILTER_DIR], { overrides: { mode, logtype } });
      const before = analysisLoaded();
      new LogFilter(definition, { now: () => 0 });
      if (!before && analysisLoaded()) loading.push({ filter: `${name}[mode=${mode}, logtype=${logtype}]`, groups: uncleared(definition) });
    }
  }
}
process.stdout.write(`${JSON.stringify({ loading, loaded: analysisLoaded() })}\n`);
