// The kernel's own mm selftests on real guests, each kernel's from its own Debian linux-source
// tree: madv_populate passes every point on 6.1 and 6.12; hugetlb-madvise fails on 6.1 and
// passes on 6.12. The 6.1 kernel has 8ebe0a5eaaeb (v6.1-rc3: MADV_DONTNEED rounds a hugetlb
// range's end down, mm/madvise.c:822 of the tree), but the 6.1 tree's own test still expects
// the end rounded up (vm/hugetlb-madvise.c:203, "aligned up"); 6.12's test says "aligned down"
// (mm/hugetlb-madvise.c:160). mmatrix's madv_dontneed@head cells agree with the kernel. A second
// run builds nothing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import type { Results } from '../../reports/results.js';

const CLI = fromRoot('dist/runner/cli.js');
const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: fromRoot('.'), encoding: 'utf8', timeout: 20 * 60_000 });

test.serial('selftests on 6.1 and 6.12 from their own trees: madv_populate passes, hugetlb-madvise fails on 6.1 only', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-kselftest-'));
  const args = ['selftests', '-k', 'debian:bookworm', '-k', 'debian:trixie', '-t', 'madv_populate', '-t', 'hugetlb-madvise', '--runs-dir', runs];
  const r = cli(args);
  t.is(r.status, 1, `a selftest FAIL is exit 1\n${r.stdout.slice(-2000)}${r.stderr}`);
  const res = JSON.parse(readFileSync(join(runs, 'latest', 'results.json'), 'utf8')) as Results;
  const [old, now] = res.kernels;
  t.regex(old.release ?? '', /^6\.1\./);
  t.regex(now.release ?? '', /^6\.12\./);
  for (const k of res.kernels) {
    const points = k.cases.filter((c) => c.id.startsWith('kselftest.mm.madv_populate.'));
    t.true(points.length >= 16, `${k.release}: madv_populate's points, one row each`);
    t.true(
      points.every((c) => c.selftest?.result === 'PASS'),
      JSON.stringify(points.filter((c) => c.selftest?.result !== 'PASS')),
    );
    t.is(k.cases.find((c) => c.id === 'kselftest.mm.madv_populate')?.selftest?.exit, 0);
    t.regex(k.cases.find((c) => c.id === 'kselftest.mm.madv_populate')?.selftest?.tree ?? '', /^linux-source-6\.1/);
  }
  const madvise = (k: typeof old) => k.cases.find((c) => c.id === 'kselftest.mm.hugetlb-madvise')?.selftest;
  t.is(madvise(old)?.result, 'FAIL');
  t.regex(madvise(old)?.detail ?? '', /Unexpected number of free huge pages line 212/);
  t.is(madvise(now)?.result, 'PASS');
  const md = readFileSync(join(runs, 'latest', 'matrix.md'), 'utf8');
  t.regex(md, /^\| kselftest\.mm\.hugetlb-madvise \| FAIL \| PASS \|$/m);
  const again = cli(args);
  t.is(again.status, 1);
  t.notRegex(again.stdout, /building|installing its headers/, 'the second run rebuilds nothing');
});
