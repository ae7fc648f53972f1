// What is pushed into a guest: the compiled guest library and suites, the addon and a
// package.json that makes node read them as ES modules. One tar stream, one SSH channel.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../images/paths.js';

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
