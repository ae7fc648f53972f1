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

/** A hash of what decides what the suites observe and how it is judged: the guest programs,
 * the addon's source and the expectation table. Equal across machines for the same checkout. */
export function suiteVersion(): string {
  const files = (dir: string): string[] =>
    readdirSync(fromRoot(dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(js|c|h)$/.test(f))
      .sort()
      .map((f) => `${dir}/${f}`);
  const inputs = [...files('dist/guest'), ...files('dist/suites'), ...files('guest/addon').filter((f) => !f.includes('/build/')), 'suites/expectations.json'];
  return hashOf(inputs.flatMap((f) => [f, readFileSync(fromRoot(f), 'utf8')]));
}
