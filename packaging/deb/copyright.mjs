// Writes debian/copyright (machine-readable format 1.0) for the package: f2b-store itself and each
// production dependency shipped under /usr/lib/f2b-store/node_modules, with its own license text.
// Usage: node packaging/deb/copyright.mjs NODE_MODULES_DIR
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const MIT = `Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT
OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.`;

const COMMON = '/usr/share/common-licenses';

/** A license text as a DEP-5 continuation: each line indented, blank lines as " .". */
const indented = (text) => text.trim().split('\n').map((line) => (line.trim() === '' ? ' .' : ` ${line.trimEnd()}`)).join('\n');

function packages(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      for (const inner of readdirSync(join(dir, name)).sort()) found.push(`${name}/${inner}`);
    } else {
      found.push(name);
    }
  }
  return found;
}

function licenseText(path) {
  const file = readdirSync(path).find((name) => /^licen[cs]e/i.test(name));
  return file === undefined ? undefined : readFileSync(join(path, file), 'utf8');
}

const modules = process.argv[2];
if (modules === undefined || !existsSync(modules)) {
  process.stderr.write('copyright.mjs: give the node_modules directory to describe\n');
  process.exit(2);
}

const out = [
  'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
  'Upstream-Name: f2b-store',
  '',
  'Files: *',
  'Copyright: f2b-store developers',
  'License: Expat',
  '',
];
for (const name of packages(modules)) {
  const path = join(modules, name);
  const pkg = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8'));
  const license = typeof pkg.license === 'string' ? pkg.license : 'unknown';
  const text = licenseText(path);
  const holder = text?.match(/^\s*Copyright[^\n]*$/im)?.[0].trim().replace(/^Copyright\s*(\(c\)|©)?\s*/i, '') || name;
  out.push(`Files: usr/lib/f2b-store/node_modules/${name}/*`, `Copyright: ${holder}`);
  if (license === 'MIT' || license === 'Expat') {
    out.push('License: Expat', '');
  } else if (existsSync(join(COMMON, license))) {
    out.push(`License: ${license}`, indented(`On Debian systems, the full text of this license is in ${COMMON}/${license}.`), '');
  } else {
    out.push(`License: ${license}`, indented(text ?? `See https://www.npmjs.com/package/${name}`), '');
  }
}
out.push('License: Expat', indented(MIT), '');
process.stdout.write(out.join('\n'));
