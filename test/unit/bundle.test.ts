import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { decodeAnswer, isPools } from '../../guest/protocol.js';
import { GUEST_DIR, guestBundle } from '../../runner/bundle.js';

test('the guest bundle is one CommonJS file, the addon and package.json, and it answers a request', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-bundle-test-'));
  try {
    execFileSync('tar', ['-x', '-C', dir], { input: guestBundle() });
    t.deepEqual(readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort(), ['mm.node', 'package.json', 'suites', 'suites/main.js']);
    // Run as the runner runs it in a guest (cd GUEST_DIR && node suites/main.js), here on the host.
    const out = execFileSync('node', ['suites/main.js'], { cwd: dir, input: '{"kind":"pools"}\n', encoding: 'utf8' });
    const [answer, done] = out.split('\n');
    t.not(decodeAnswer(answer, isPools), null, `${GUEST_DIR}'s program gave no pools answer: ${out}`);
    t.is(done, '# mmatrix: done 0');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
