/**
 * `npm run check`: the type check and the lint, on one TypeScript program. The lint's type-aware
 * rules (no-floating-promises, no-misused-promises) need the program that tsc builds. `tsc` and
 * `eslint .` side by side each built it and typed the code again: 57 s of CPU from cold, where
 * this takes 34 s (2026-12-05). In `npm test` every second of it is taken from the tests.
 * `npm run typecheck` (incremental) and `npm run lint` still run each alone.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function typeProgram(): ts.Program {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
    },
  });
  if (config === undefined) throw new Error('tsconfig.json: not read');
  // With the errors of tsconfig.json itself (an unknown option, an include that finds nothing), which tsc reports too.
  return ts.createProgram({ rootNames: config.fileNames, options: config.options, configFileParsingDiagnostics: config.errors });
}

/** tsc's own report of `diagnostics` (with the source around each, on a terminal); true when there were any. */
function reportTypes(diagnostics: readonly ts.Diagnostic[]): boolean {
  if (diagnostics.length === 0) return false;
  const host: ts.FormatDiagnosticsHost = { getCanonicalFileName: (name) => name, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' };
  const format = process.stdout.isTTY ? ts.formatDiagnosticsWithColorAndContext : ts.formatDiagnostics;
  process.stdout.write(`${format(diagnostics, host)}\n`);
  return true;
}

/** ESLint on the repository with `program` for type information, reported as `eslint .` does; true when it found errors. */
async function reportLint(program: ts.Program): Promise<boolean> {
  const eslint = new ESLint({
    cwd: ROOT,
    // The config's projectService would build the program again.
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parserOptions: { projectService: false, programs: [program] } } }],
  });
  const results = await eslint.lintFiles(['.']);
  const text = await (await eslint.loadFormatter('stylish')).format(results);
  if (text !== '') process.stdout.write(text);
  return results.some((result) => result.errorCount > 0);
}

const program = typeProgram();
const typeErrors = reportTypes(ts.getPreEmitDiagnostics(program));
const lintErrors = await reportLint(program);
process.exitCode = typeErrors || lintErrors ? 1 : 0;
