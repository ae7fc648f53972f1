// What is pushed into a guest: the compiled guest library and suites as one CommonJS file
// (suites/main.js, bundled by esbuild), the addon and a package.json that makes node read it as
// CommonJS. One tar stream, one SSH channel. One file, because under TCG node's module loader
// costs per file it resolves and reads: a guest's first request took 2.3 s from 25 files and
// 1.7 s from one ES module, a later one 0.85 s and 0.5 s. CommonJS, because node's ES module
// loader (its resolution, translation and module jobs) is work of its own at every start: in
// fresh 6.1 guests the first request took 1.77 s instead of 2.24 s, a later one 0.41 s instead
// of 0.55 s (medians of six, alternated; docs/figures.md).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { hashOf } from '../common/cache.js';
import { fromRoot } from '../common/paths.js';

export const GUEST_DIR = '/opt/mm';

export function guestBundle(): Buffer {
  const stage = mkdtempSync(join(tmpdir(), 'mmatrix-bundle-'));
  try {
    mkdirSync(join(stage, 'suites'));
    writeFileSync(join(stage, 'suites/main.js'), guestProgram());
    cpSync(fromRoot('guest/addon/build/Release/mm.node'), join(stage, 'mm.node'));
    writeFileSync(join(stage, 'package.json'), '{"type":"commonjs"}\n');
    // Binary output: read it as a Buffer straight from the child (a text round trip corrupts it).
    return execFileSync('tar', ['-cf', '-', '.'], { cwd: stage, maxBuffer: 64 << 20 });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The name the bundle's import.meta.url becomes: CommonJS has no import.meta. */
const MODULE_URL = '__mmatrix_module_url';

/** dist/suites/main.js with everything it imports, as one CommonJS file. Not minified: an error's
 * stack in a TAP point keeps its function names (its lines are the bundle's). The addon stays
 * a file of its own, which guest/native.ts loads relative to the module (../mm.node): its
 * import.meta.url becomes the bundle's own file URL. */
export function guestProgram(): Uint8Array {
  const out = buildSync({
    entryPoints: [fromRoot('dist/suites/main.js')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: { 'import.meta.url': MODULE_URL },
    banner: { js: `const ${MODULE_URL} = require('node:url').pathToFileURL(__filename).href;` },
    write: false,
    logLevel: 'silent',
  });
  // A warning means the CommonJS output differs from the modules (an import.meta left empty).
  if (out.warnings.length) throw new Error(`bundling the guest program: ${out.warnings[0].text}`);
  return out.outputFiles[0].contents;
}

/** A hash of what decides what the suites observe: the guest programs and the addon's source.
 * The expectation table is left out: it judges observations and does not make them, so fixing
 * an entry's source keeps stored baselines comparable. Equal across machines for one checkout. */
export function suiteVersion(): string {
  return hashOf(suiteInputs().flatMap((f) => [f, readFileSync(fromRoot(f), 'utf8')]));
}

/** The files suiteVersion hashes, relative to the project root. */
export function suiteInputs(): string[] {
  const files = (dir: string): string[] =>
    readdirSync(fromRoot(dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(js|c|h)$/.test(f))
      .sort()
      .map((f) => `${dir}/${f}`);
  return [...files('dist/guest'), ...files('dist/suites'), ...files('guest/addon').filter((f) => !f.includes('/build/'))];
}
