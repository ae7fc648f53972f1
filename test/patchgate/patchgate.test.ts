// Opt-in (`make test-patch-gate`: it compiles a kernel, about half an hour on two cores):
// Debian's 6.1 source built with `src:`, once as it is and once with a patch that changes one
// semantic (0001-mm-madv_free-whole-thp.patch). The gate must flag exactly that cell.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import type { Results } from '../../reports/results.js';

const CLI = fromRoot('dist/runner/cli.js');
const PATCH = fromRoot('test/patchgate/0001-mm-madv_free-whole-thp.patch');
const TREE = 'src:debian:bookworm';
const cli = (args: string[]) => {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: fromRoot('.'), encoding: 'utf8', timeout: 90 * 60_000 });
  return { ...r, seconds: (Date.now() - t0) / 1000 };
};
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
const builtIn = (out: string) => /built \S+ in (\d+) s/.exec(out)?.[1] ?? 'cached';

test('a source build with a one-semantic patch: the gate flags exactly that cell', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-patchgate-'));
  const base = cli(['run', '-k', TREE, '--runs-dir', join(runs, 'base')]);
  t.is(base.status, 0, base.stdout + base.stderr);
  const baseDir = join(runs, 'base', 'latest');
  const b = results(baseDir).kernels[0];
  t.is(b.cases.find((c) => c.id === 'madv_free.anon-thp-private')?.observation?.label, 'ok kept pmd', 'unpatched 6.1 leaves a freed THP in place');

  const cand = cli(['run', '-k', `${TREE},patches=${PATCH}`, '--runs-dir', join(runs, 'cand'), '--baseline', baseDir]);
  t.is(cand.status, 1, cand.stdout + cand.stderr);
  const candDir = join(runs, 'cand', 'latest');
  const diff = readFileSync(join(candDir, 'diff.md'), 'utf8');
  const listed = [...diff.matchAll(/^\| (\S+) \| ([^|]+) \| ([^|]+) \| (unexplained|expected|accepted) \|/gm)].map(
    (m) => `${m[1]}: ${m[2].trim()} → ${m[3].trim()} (${m[4]})`,
  );
  t.deepEqual(listed, ['madv_free.anon-thp-private: ok kept pmd → ok zeroed freed (unexplained)']);
  t.regex(diff, /1 unexplained, 0 expected, 0 accepted/);
  // Same tree, same config: the fingerprints differ in the build only.
  const [fb, fc] = [b.fingerprint!, results(candDir).kernels[0].fingerprint!];
  t.is(fb.release, fc.release);
  t.is(fb.configHash, fc.configHash);
  t.not(fb.kernelId, fc.kernelId);

  t.log(`baseline: built in ${builtIn(base.stdout)} s, run took ${base.seconds.toFixed(0)} s in all`);
  t.log(`patched: built in ${builtIn(cand.stdout)} s, run and gate took ${cand.seconds.toFixed(0)} s in all`);
});
