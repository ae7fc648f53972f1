// The gate, shards and the HTML report, on real runs: 6.1 as baseline and 6.12 as candidate;
// a sharded run merged against the same run unsharded, with its junit.xml and matrix.html.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import type { Results } from '../../reports/results.js';

const CLI = fromRoot('dist/runner/cli.js');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: fromRoot('.'), encoding: 'utf8', timeout: 15 * 60_000 });
const results = (dir: string) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
type Labels = Record<string, Record<string, string>>;
const labels = (r: Results): Labels =>
  Object.fromEntries(r.kernels.map((k) => [k.release ?? k.spec, Object.fromEntries(k.cases.map((c) => [c.id, c.observation?.label ?? c.status]))]));

test.serial('gate: 6.1 baseline, 6.12 candidate: exactly the changed cells; allowlisted they pass', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-gate-'));
  const base = cli(['run', '-k', 'debian:bookworm', '--runs-dir', join(runs, 'base')]);
  t.is(base.status, 0, base.stdout + base.stderr);
  const baseDir = join(runs, 'base', 'latest');
  // run --baseline: every change between these two is one the expectation table predicts.
  const cand = cli(['run', '-k', 'debian:trixie', '--runs-dir', join(runs, 'cand'), '--baseline', baseDir]);
  t.log(
    cand.stdout
      .split('\n')
      .filter((l) => /changed cells|Gate/.test(l))
      .join('\n'),
  );
  t.is(cand.status, 0, cand.stdout + cand.stderr);
  const candDir = join(runs, 'cand', 'latest');
  t.regex(readFileSync(join(candDir, 'diff.md'), 'utf8'), /0 unexplained, \d+ expected, 0 accepted/);
  // What changed, worked out here from the two result files.
  const [b, c] = [Object.values(labels(results(baseDir)))[0], Object.values(labels(results(candDir)))[0]];
  const changed = Object.keys(c)
    .filter((id) => b[id] !== c[id])
    .sort();
  t.true(changed.length > 0);
  // Without the table every change is unexplained: exit 1, and the list is exactly those cells.
  const strict = cli(['diff', baseDir, candDir, '--no-expectations']);
  t.is(strict.status, 1, strict.stderr);
  const listed = [...strict.stdout.matchAll(/^\| (\S+) \| [^|]+ \| [^|]+ \| unexplained \|/gm)].map((m) => m[1]).sort();
  t.deepEqual(listed, changed);
  // The same cells in an allowlist: accepted, exit 0.
  const allow = join(runs, 'allow');
  writeFileSync(allow, `# accepted for this test\n${changed.map((id) => `${id} known change`).join('\n')}\n`);
  const accepted = cli(['diff', baseDir, candDir, '--no-expectations', '--allowlist', allow]);
  t.is(accepted.status, 0, accepted.stdout);
  t.regex(accepted.stdout, new RegExp(`0 unexplained, 0 expected, ${changed.length} accepted`));
});

test.serial('shard 1/2 + shard 2/2 merged equals the unsharded run, with a well-formed junit.xml', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-shard-'));
  const args = ['-k', 'debian:bullseye', '-k', 'debian:bookworm', '-s', 'advice'];
  const whole = cli(['run', ...args, '--runs-dir', join(runs, 'whole')]);
  t.is(whole.status, 0, whole.stdout + whole.stderr);
  for (const s of ['1/2', '2/2']) {
    const r = cli(['run', ...args, '--shard', s, '--runs-dir', join(runs, `shard${s[0]}`)]);
    t.is(r.status, 0, r.stdout + r.stderr);
    t.is(results(join(runs, `shard${s[0]}`, 'latest')).kernels.length, 1);
  }
  const merged = join(runs, 'merged');
  const m = cli(['merge', join(runs, 'shard2', 'latest'), join(runs, 'shard1', 'latest', 'results.json'), '-o', merged]);
  t.is(m.status, 0, m.stderr);
  t.deepEqual(labels(results(merged)), labels(results(join(runs, 'whole', 'latest'))));
  t.deepEqual(
    results(merged).kernels.map((k) => k.spec),
    ['debian:bullseye', 'debian:bookworm'],
  );
  // junit.xml: well-formed, one testsuite per kernel, a testcase per case.
  const junit = readFileSync(join(merged, 'junit.xml'), 'utf8');
  const py = spawnSync(
    'python3',
    [
      '-c',
      'import sys,xml.dom.minidom as m; d=m.parse(sys.argv[1]); print(len(d.getElementsByTagName("testsuite")), len(d.getElementsByTagName("testcase")))',
      join(merged, 'junit.xml'),
    ],
    { encoding: 'utf8' },
  );
  const cases = results(merged).kernels.reduce((n, k) => n + k.cases.length, 0);
  t.is(py.stdout.trim(), `2 ${cases}`, py.stderr);
  t.regex(junit, /<testsuite name="5\.10\.[^"]*" tests="\d+" failures="0" errors="0" skipped="\d+"/);
  // matrix.html: the script ran and drew every case (the browser test of a five-kernel run is report.test.ts).
  t.true(readFileSync(join(merged, 'matrix.html'), 'utf8').includes('"rows":[{'));
});
