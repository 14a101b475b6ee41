import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machineLine, type Machine } from './machine.js';
import { markdownTable, textTable, type Row } from './table.js';

export const RESULTS = fileURLToPath(new URL('RESULTS.md', import.meta.url));

const HEADER = '# Benchmark results\n\nWritten by `npm run bench`. Each benchmark replaces only its own marked section.\n';

function markers(name: string): { open: string; close: string } {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`bad section name "${name}"`);
  return { open: `<!-- bench:${name} -->`, close: `<!-- /bench:${name} -->` };
}

/** `document` with the section `name` set to `body`: replaced where its markers are, appended otherwise. */
export function replaceSection(document: string, name: string, body: string): string {
  const { open, close } = markers(name);
  const section = `${open}\n${body.trim()}\n${close}`;
  const start = document.indexOf(open);
  if (start === -1) return `${document.trimEnd()}\n\n${section}\n`;
  const end = document.indexOf(close, start);
  if (end === -1) throw new Error(`section ${name}: ${open} without ${close}`);
  return document.slice(0, start) + section + document.slice(end + close.length);
}

/** Sets one section of the results file, creating the file when missing; written atomically. */
export function writeSection(file: string, name: string, body: string): void {
  const current = existsSync(file) ? readFileSync(file, 'utf8') : HEADER;
  const temp = `${file}.tmp-${process.pid}`;
  writeFileSync(temp, replaceSection(current, name, body));
  renameSync(temp, file);
}

/** Prints a benchmark's table and remarks, and writes them as section `name` of bench/RESULTS.md. */
export function report(name: string, title: string, run: { machine: Machine; startedAt: Date }, headers: string[], table: Row[], remarks: string[]): void {
  const plain = (text: string): string => text.replaceAll('`', '');
  console.log(`\n${title}\n${machineLine(run.machine)}\n\n${textTable(headers, table.map((r) => r.map(plain)))}\n`);
  console.log(remarks.map(plain).join('\n'));
  writeSection(RESULTS, name, [
    `## ${title}`,
    '',
    `Run at ${run.startedAt.toISOString()} on ${machineLine(run.machine)}.`,
    '',
    markdownTable(headers, table),
    '',
    ...remarks.map((r) => `- ${r}`),
  ].join('\n'));
  console.log(`\nwritten to ${RESULTS}`);
}
