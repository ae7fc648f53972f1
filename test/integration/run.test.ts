// Real kernels in real QEMU: no mocked guest. Boots Debian 5.10 and 6.1 and checks what
// the kernels really do, then that a repeat run fetches and builds nothing, and that
// SIGINT leaves no QEMU behind and keeps what finished, and --resume finishes the run.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import type { Results } from '../../reports/results.js';

const CLI = fromRoot('dist/runner/cli.js');
const cwd = fromRoot('.');

function runCli(args: string[]) {
  return spawnSync(process.execPath, [CLI, 'run', ...args], { cwd, encoding: 'utf8', timeout: 15 * 60_000 });
}

const readResults = (dir: string) => JSON.parse(readFileSync(join(dir, 'latest', 'results.json'), 'utf8')) as Results;

/** QEMU processes whose command line mentions `needle` (a run folder). */
function qemuWith(needle: string): string[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.startsWith('qemu-system') && cmd.includes(needle);
      } catch {
        return false;
      }
    });
}

test.serial('5.10 and 6.1: real observations, hugetlb MADV_DONTNEED differs', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-it-'));
  const r = runCli(['-k', 'debian:bullseye', '-k', 'debian:bookworm', '--runs-dir', runs]);
  t.log(r.stdout);
  t.is(r.status, 0, r.stderr);
  const res = readResults(runs);
  t.true(res.complete);
  const [k510, k61] = res.kernels;
  t.regex(k510.release ?? '', /^5\.10\./);
  t.regex(k61.release ?? '', /^6\.1\./);
  type K = (typeof res.kernels)[number];
  const obs = (k: K, id: string) => {
    const c = k.cases.find((x) => x.id === id);
    if (!c?.observation) throw new Error(`${k.release}: no observation for ${id}`);
    return c.observation;
  };
  const units = (o: { len: number }) => o.len / 4096;
  for (const k of res.kernels) {
    t.is(k.error, null);
    t.is(k.hugepagesObtained, 64, 'the pool /init asked for was obtained');
    t.true((k.bootSeconds ?? 0) > 0);
    t.true(k.cases.length >= 100, `${k.cases.length} cases`);
    // Under TCG no 1 GiB pool is configured (a 1 GiB fault costs seconds): those types skip, saying why.
    const gig = (id: string) => /-1g-/.test(id);
    t.true(
      k.cases.every((c) => (gig(c.id) ? c.status === 'skip' && /1 GiB/.test(c.reason ?? '') : c.status === 'observed')),
      JSON.stringify(k.cases.filter((c) => c.status !== 'observed' && !gig(c.id))),
    );
    t.deepEqual(k.poolDrift ?? [], [], 'the runner finds every pool at its boot baseline after each suite');
    // ext4 on the scratch disk: a hole punch frees the file's blocks under a shared mapping and
    // leaves a private mapping's COW copies alone (mm/truncate.c: even_cows = 0), freeing the
    // blocks of the file's own data there.
    const ext4 = obs(k, 'punch_hole.ext4-shared');
    t.is(ext4.content!.zero, units(ext4));
    t.is(ext4.backing!.fileKb, -units(ext4) * 4, 'every block of the range is given back');
    t.is(obs(k, 'punch_hole.ext4-private').label, 'ok kept freed');
    // A forked child writing a private hugetlb mapping takes pages beyond the parent's reservation.
    t.is(obs(k, 'resv_fork.hugetlbfs-private').label, 'child ok rsvd+0 free-2');
    // MAP_NORESERVE beyond the pool: MAP_POPULATE hides the shortfall, a touch meets SIGBUS.
    t.is(obs(k, 'map_populate@noreserve_overcommit.map-hugetlb-private').label, 'ok partial allocated');
    t.is(obs(k, 'touch@noreserve_overcommit.map-hugetlb-private').label, 'ok SIGBUS partial allocated');
    t.true(
      k.cases.every((c) => c.observation?.poolBalanced !== false),
      'every hugetlb case returns the pool to its baseline',
    );
    const anon = obs(k, 'madv_dontneed.anon-private');
    t.is(anon.ret, 0);
    t.is(anon.presentAfter, 0, 'pages unmapped right after the call');
    t.is(anon.content!.zero, units(anon), 'private anon reads back zeros');
    t.true(anon.freed);
    // A private file mapping's copies dropped: the read returns the file's own data, not zeros.
    const privFile = obs(k, 'madv_dontneed.memfd-private');
    t.is(privFile.content!.file, units(privFile), "private memfd reads back the file's data");
    t.true(privFile.freed);
    const shared = obs(k, 'madv_dontneed.memfd-shared');
    t.is(shared.content!.pattern, units(shared), 'shared memfd keeps its data');
    t.false(shared.freed);
    // The zap table of seed 002: punch hole zaps private COW pages on hugetlbfs but not on shmem,
    // and MADV_REMOVE needs a shared writable mapping (EACCES on a private file mapping).
    const whole = (id: string, word: 'zero' | 'pattern') => t.is(obs(k, id).content![word], units(obs(k, id)), id);
    whole('punch_hole.hugetlbfs-private', 'zero');
    whole('punch_hole.memfd-private', 'pattern');
    t.is(obs(k, 'madv_remove.memfd-private').errno, 'EACCES');
    whole('madv_remove.memfd-shared', 'zero');
    const dir = join(runs, 'latest', k.id);
    t.true(existsSync(join(dir, 'console.log')));
    t.regex(readFileSync(join(dir, 'zap.tap'), 'utf8'), /^TAP version 14$/m);
  }
  const hp = (k: K) => obs(k, 'madv_dontneed.hugetlbfs-private');
  // hugetlb MADV_DONTNEED arrived in 5.18 (commit 90e7e7f5ef3f "mm: enable MADV_DONTNEED for hugetlb mappings").
  t.is(hp(k510).errno, 'EINVAL');
  t.is(hp(k510).content!.pattern, units(hp(k510)), '5.10 leaves the data in place');
  t.is(hp(k61).ret, 0);
  t.is(hp(k61).content!.file, units(hp(k61)), "6.1 zaps: the private copies go, and the read returns the file's own data");
  t.is(hp(k61).backing!.hugeFree, 2, 'and the two huge pages go back to the pool');
  t.is(obs(k510, 'madv_populate_write@noreserve_overcommit.hugetlbfs-shared').errno, 'EINVAL');
  t.is(obs(k61, 'madv_populate_write@noreserve_overcommit.hugetlbfs-shared').errno, 'EFAULT', 'populate reports what a touch would meet');
  // 6.1 frees the zapped pages but does not give the private owner its reservation back (that came in 6.9).
  t.is(obs(k61, 'resv_madv_dontneed.hugetlbfs-private').label, 'rsvd+0 free+2');
  // MADV_POPULATE_(READ|WRITE) arrived in 5.14 (commit 4ca9b3859dac).
  t.is(obs(k510, 'madv_populate_write.anon-private').errno, 'EINVAL');
  const pw = obs(k61, 'madv_populate_write.anon-private');
  t.is(pw.presentAfter, units(pw), '6.1 populates every page');
  t.true(pw.cow, 'and breaks COW: private anonymous pages are allocated');
  t.is(obs(k61, 'madv_populate_read.anon-private').allocated, false, 'POPULATE_READ maps the zero page');
  // hugetlb mremap arrived in 5.16 (commit 550a7d60bd5e); MREMAP_DONTUNMAP on shmem in 5.13 (a4609387859f).
  t.is(obs(k510, 'mremap_fixed.hugetlbfs-shared').errno, 'EINVAL');
  const mv = obs(k61, 'mremap_fixed.hugetlbfs-shared');
  t.true(mv.moved);
  t.is(mv.content!.pattern, units(mv), 'the moved hugetlb mapping keeps its data');
  t.is(mv.old, 'SIGSEGV', 'and the old range is gone');
  t.is(obs(k510, 'mremap_dontunmap.memfd-shared').errno, 'EINVAL');
  t.is(obs(k61, 'mremap_dontunmap.memfd-shared').old, 'kept');
  // MADV_COLLAPSE arrived in 6.1 (commit 7d8faaf15545); advice 26 (MADV_SPLIT) was never merged.
  t.is(obs(k510, 'madv_collapse.anon-private').errno, 'EINVAL');
  t.is(obs(k61, 'madv_collapse.anon-private').label, 'ok kept pmd', 'collapsed: PMDs map the range');
  t.is(obs(k61, 'madv_26.anon-private').errno, 'EINVAL');
  // Reservations: made at mmap, consumed by the fault, kept by an open shared file after munmap.
  for (const k of res.kernels) {
    t.is(obs(k, 'resv_mmap.hugetlbfs-private').label, 'rsvd+2 free+0');
    t.is(obs(k, 'resv_fault.hugetlbfs-private').label, 'rsvd-2 free-2');
    t.is(obs(k, 'resv_munmap.hugetlbfs-shared').label, 'rsvd+0 free-2');
  }
  t.true(
    res.kernels.every((k) => k.cases.every((c) => c.status === 'skip' || c.verdict?.status === 'conformant')),
    'every cell conforms to the table',
  );
  const md = readFileSync(join(runs, 'latest', 'matrix.md'), 'utf8');
  t.regex(md, /\| madv_dontneed\.hugetlbfs-private \| EINVAL ✓ \| ok file freed ✓ \|/);
  t.deepEqual(qemuWith(runs), []);
});

test.serial('a repeat run downloads and rebuilds nothing; a deviation exits 1 naming the case', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-it-'));
  // The shipped table with one expectation flipped: exactly that cell must deviate.
  const table = JSON.parse(readFileSync(fromRoot('suites/expectations.json'), 'utf8'));
  table.expectations.unshift({ cases: ['madv_free.anon-private'], versions: [{ label: 'ok zeroed freed' }], source: 'a test' });
  const file = join(runs, 'expectations.json');
  writeFileSync(file, JSON.stringify(table));
  const r = runCli(['-k', 'debian:bookworm', '--runs-dir', runs, '--expectations', file]);
  t.is(r.status, 1, r.stderr);
  t.notRegex(r.stdout, /downloading|unpacking|fetched the package index|image built/);
  t.regex(r.stdout, /image cached/);
  t.regex(r.stdout, /1 deviation\(s\) from the expectation table/);
  const md = readFileSync(join(runs, 'latest', 'matrix.md'), 'utf8');
  const deviations = md.split('## Deviations')[1]?.split('\n## ')[0].trim().split('\n') ?? [];
  t.deepEqual(deviations.length, 1);
  t.regex(deviations[0], /madv_free\.anon-private: observed `ok kept`, expected `ok zeroed freed` \(a test\)/);
});

test.serial('SIGINT mid-run: exit 130, no QEMU left, finished kernel kept', async (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-it-'));
  // One guest at a time, so the first kernel is finished when the second boots.
  const p = spawn(process.execPath, [CLI, 'run', '-j', '1', '-k', 'debian:bookworm', '-k', 'debian:bullseye', '--runs-dir', runs], { cwd });
  let out = '';
  const code = await new Promise<number | null>((resolve) => {
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      // The second guest is booting: interrupt it.
      if (/5\.10[^\n]*booting under/.test(out) && !p.killed) setTimeout(() => p.kill('SIGINT'), 1500);
    });
    p.on('exit', (c) => resolve(c));
  });
  t.log(out);
  t.is(code, 130);
  t.deepEqual(qemuWith(runs), [], 'no QEMU outlives the runner');
  const res = readResults(runs);
  t.false(res.complete);
  const first = res.kernels[0].cases;
  t.true(first.length >= 100 && first.every((c) => c.status === 'observed' || /-1g-/.test(c.id)), 'the finished kernel is kept');
  // --resume finishes the same run folder, named the natural way (runs/latest): the finished
  // kernel is not run again, and latest still names the folder, not itself.
  const dir = join(runs, res.runId);
  const again = spawnSync(process.execPath, [CLI, 'run', '--resume', join(runs, 'latest')], { cwd, encoding: 'utf8', timeout: 15 * 60_000 });
  t.log(again.stdout);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /resumed: \d+ cases kept/);
  t.notRegex(again.stdout, /6\.1\.0[^\n]*booting under/, '6.1 finished before: not booted again');
  const done = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
  t.true(done.complete);
  t.is(readlinkSync(join(runs, 'latest')), res.runId);
  t.deepEqual(
    done.kernels.map((k) => k.spec),
    ['debian:bookworm', 'debian:bullseye'],
  );
  t.deepEqual(done.kernels[0].cases.length, first.length);
  t.true(done.kernels[1].cases.length >= 100);
});
