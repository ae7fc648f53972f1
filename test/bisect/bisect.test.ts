// Opt-in (`make test-bisect`: it compiles kernels, about 40 minutes on two cores from a cold
// cache): a git history made from Debian's 6.1 source, a base and eight commits on it, seven
// that touch mm files harmlessly (so every step recompiles) and one that changes one semantic
// (the patch-gate patch). `mmatrix bisect` must name that commit and only it, with at most
// ⌈log2 N⌉ + 1 kernel builds for the N revisions from good to bad; a second bisection of the
// same range finds every kernel in the cache.

import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { cachePath } from '../../common/cache.js';
import { fromRoot } from '../../common/paths.js';
import { debianTree } from '../../images/srcbuild.js';
import { type BisectRecord, changedCells, compiledBuilds } from '../../reports/bisect.js';

const CLI = fromRoot('dist/runner/cli.js');
const PATCH = fromRoot('test/patchgate/0001-mm-madv_free-whole-thp.patch');
const CASE = 'madv_free.anon-thp-private';
const HARMLESS = ['mm/madvise.c', 'mm/memory.c', 'mm/rmap.c', 'mm/hugetlb.c', null, 'mm/filemap.c', 'mm/mremap.c', 'mm/mmap.c'];
// Fixed names and dates: the same history, commit for commit, every time it is made.
const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'mmatrix',
  GIT_AUTHOR_EMAIL: 'mmatrix@localhost',
  GIT_AUTHOR_DATE: '2026-11-23T12:00:00Z',
  GIT_COMMITTER_NAME: 'mmatrix',
  GIT_COMMITTER_EMAIL: 'mmatrix@localhost',
  GIT_COMMITTER_DATE: '2026-11-23T12:00:00Z',
};

function git(tree: string, ...args: string[]): string {
  const r = spawnSync('git', ['-C', tree, ...args], { encoding: 'utf8', env: GIT_ENV, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** The history, kept in the cache (a stable path: the tree's one build copy is reused). */
async function history(): Promise<{ tree: string; commits: string[] }> {
  const tree = cachePath('test-bisect', 'linux-6.1');
  const done = `${tree}.done`;
  if (!existsSync(done)) {
    rmSync(tree, { recursive: true, force: true });
    const src = await debianTree('bookworm', false, () => {});
    mkdirSync(tree, { recursive: true });
    if (spawnSync('cp', ['-a', `${src.tree}/.`, `${tree}/`], { stdio: 'inherit' }).status !== 0) throw new Error(`copying ${src.tree} failed`);
    git(tree, 'init', '-q');
    git(tree, 'add', '-A', '-f'); // -f: a release tarball holds files the tree's .gitignore names
    git(tree, 'commit', '-q', '-m', `base: Debian's ${src.identity}`);
    for (const [i, file] of HARMLESS.entries()) {
      if (file === null) {
        git(tree, 'am', '-q', PATCH);
        continue;
      }
      appendFileSync(join(tree, file), `/* mmatrix bisect test: harmless change ${i + 1} */\n`);
      git(tree, 'commit', '-q', '-a', '-m', `mm: harmless change ${i + 1} to ${file}`);
    }
    writeFileSync(done, git(tree, 'rev-parse', 'HEAD'));
  }
  return { tree, commits: git(tree, 'rev-list', '--reverse', 'HEAD').split('\n') };
}

function bisect(tree: string, good: string, bad: string) {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-bisect-'));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, 'bisect', tree, '--good', good, '--bad', bad, '-c', CASE, '--runs-dir', runs], {
    cwd: fromRoot('.'),
    encoding: 'utf8',
    timeout: 110 * 60_000,
  });
  const folder = readdirSync(runs).find((f) => f.startsWith('bisect-'));
  const record = folder ? (JSON.parse(readFileSync(join(runs, folder, 'bisect.json'), 'utf8')) as BisectRecord) : null;
  return { ...r, record, seconds: (Date.now() - t0) / 1000 };
}

test('bisect names the one commit of nine revisions that changes a cell, in at most ⌈log2 N⌉ + 1 builds', async (t) => {
  const h0 = Date.now();
  const { tree, commits } = await history();
  t.is(commits.length, 9, 'a base and eight commits');
  const changer = commits[HARMLESS.indexOf(null) + 1];
  t.regex(git(tree, 'log', '-1', '--format=%s', changer), /MADV_FREE frees a whole PMD-mapped THP/);
  t.log(`history ready in ${((Date.now() - h0) / 1000).toFixed(0)} s`);

  const first = bisect(tree, commits[0], 'HEAD');
  t.is(first.status, 0, first.stdout.slice(-4000) + first.stderr);
  const r = first.record!;
  t.is(r.end?.kind, 'found');
  t.is(r.end?.kind === 'found' && r.end.commit, changer, 'the patch, and only it');
  const changed = r.end?.kind === 'found' ? changedCells(r.end.before, r.end.after) : [];
  t.deepEqual(
    changed.map((c) => c.id),
    [CASE],
  );
  t.regex(first.stdout, new RegExp(`First commit where the cells change: \\*\\*${changer}\\*\\*`));
  t.regex(first.stdout, /mmatrix run -k src:\S+,rev=[0-9a-f]{40} -c 'madv_free\.anon-thp-private'/);
  const n = commits.length; // revisions from good to bad, both ends included
  const bound = Math.ceil(Math.log2(n)) + 1;
  t.true(r.steps.length <= bound, `${r.steps.length} revisions built or taken from the cache, at most ${bound}`);
  t.true(compiledBuilds(r) <= bound);
  t.log(`${changed[0]?.from} → ${changed[0]?.to}`);
  t.log(`first bisection: ${r.steps.length} revisions, ${compiledBuilds(r)} compiled, ${first.seconds.toFixed(0)} s`);
  for (const s of r.steps)
    t.log(
      `  ${s.role} ${s.commit.slice(0, 12)} ${s.verdict}: build ${s.compiled ? `${s.buildSeconds.toFixed(0)} s` : 'cached'}, run ${s.runSeconds.toFixed(0)} s`,
    );

  // The same range again, in a new folder: every kernel comes from the cache.
  const second = bisect(tree, commits[0], 'HEAD');
  t.is(second.status, 0, second.stdout.slice(-4000) + second.stderr);
  t.deepEqual(second.record?.end, r.end);
  t.is(compiledBuilds(second.record!), 0);
  t.log(`second bisection (warm cache): ${second.seconds.toFixed(0)} s`);
});
