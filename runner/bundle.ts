// What is pushed into a guest: the compiled guest library and suites, the addon and a
// package.json that makes node read them as ES modules. One tar stream, one SSH channel.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashOf } from '../common/cache.js';
import { fromRoot } from '../common/paths.js';

export const GUEST_DIR = '/opt/mm';

export function guestBundle(): Buffer {
  const stage = mkdtempSync(join(tmpdir(), 'mmatrix-bundle-'));
  try {
    cpSync(fromRoot('dist/guest'), join(stage, 'guest'), { recursive: true });
    cpSync(fromRoot('dist/suites'), join(stage, 'suites'), { recursive: true });
    cpSync(fromRoot('guest/addon/build/Release/mm.node'), join(stage, 'mm.node'));
    writeFileSync(join(stage, 'package.json'), '{"type":"module"}\n');
    // Binary output: read it as a Buffer straight from the child (a text round trip corrupts it).
    return execFileSync('tar', ['-cf', '-', '.'], { cwd: stage, maxBuffer: 64 << 20 });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
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
