// The bisection without kernels: real git in a small history, a fake step that says what each
// revision's cells are (or that it did not build), and the record on disk.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { type BisectRecord, type Cells, classify, renderBisect, stepsFor } from '../../reports/bisect.js';
import { bisect, bisectState, type StepOutcome } from '../../runner/bisect.js';

const GOOD = { 'madv_free.anon-thp-private': 'ok kept pmd' };
const BAD = { 'madv_free.anon-thp-private': 'ok zeroed freed' };

test('a step is good or bad when its cells equal that end, skip without cells, neither otherwise', (t) => {
  t.is(classify({ ...GOOD }, GOOD, BAD), 'good');
  t.is(classify({ ...BAD }, GOOD, BAD), 'bad');
  t.is(classify(null, GOOD, BAD), 'skip', 'no build or no boot is never a semantic change');
  t.is(classify({ 'madv_free.anon-thp-private': 'ok mixed' }, GOOD, BAD), 'neither');
  t.is(classify({}, GOOD, BAD), 'neither', 'a case the step lacks is absent, which neither end is');
  t.is(classify({}, {}, BAD), 'good', 'absent at the good end too');
  const two = (a: string, b: string) => ({ a, b });
  t.is(classify(two('1', '2'), two('1', '1'), two('2', '2')), 'neither', 'cases that did not change together');
  t.is(classify(two('2', '2'), two('1', '1'), two('2', '2')), 'bad');
  t.is(stepsFor(8), 3);
  t.is(stepsFor(9), 4);
  t.is(stepsFor(1), 1);
});

test("git bisect's words: the first bad commit, only skipped ones left, or go on", (t) => {
  const sha = 'a'.repeat(40);
  t.deepEqual(bisectState(`${sha} is the first bad commit\ncommit ${sha}\n`), { kind: 'found', commit: sha });
  t.deepEqual(
    bisectState(`There are only 'skip'ped commits left to test.\nThe first bad commit could be any of:\n${sha}\n${'b'.repeat(40)}\nWe cannot bisect more!\n`),
    { kind: 'unresolved', candidates: [sha, 'b'.repeat(40)] },
  );
  t.deepEqual(bisectState('Bisecting: 3 revisions left to test after this (roughly 2 steps)\n[abc] mm: x\n'), { kind: 'next' });
});

/** base and `n` commits on top; commit i (1-based) writes mm/f<i>.c. */
function history(n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-bisect-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'mm'), { recursive: true });
  const g = (...a: string[]) => execFileSync('git', ['-C', tree, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { encoding: 'utf8' }).trim();
  g('init', '-q');
  writeFileSync(join(tree, 'Makefile'), 'all:\n');
  g('add', '.');
  g('commit', '-qm', 'base');
  const commits = [g('rev-parse', 'HEAD')];
  for (let i = 1; i <= n; i++) {
    writeFileSync(join(tree, `mm/f${i}.c`), `${i}\n`);
    g('add', '.');
    g('commit', '-qm', `mm: commit ${i}`);
    commits.push(g('rev-parse', 'HEAD'));
  }
  return { dir, tree, commits };
}

/** A fake step: `cells(i)` for commit i of the history; counts what it was asked. */
function fakeStep(commits: string[], cells: (i: number) => Cells | null, stopAfter = Infinity) {
  const asked: number[] = [];
  const evaluate = async (commit: string): Promise<StepOutcome> => {
    if (asked.length >= stopAfter) throw new Error('interrupted');
    const i = commits.indexOf(commit);
    asked.push(i);
    const c = cells(i);
    return { cells: c, failure: c ? null : 'build: kernel build failed', compiled: true, buildSeconds: 60, runSeconds: 5, run: null };
  };
  return { asked, evaluate };
}

function options(h: ReturnType<typeof history>, evaluate: (c: string, name: string) => Promise<StepOutcome>, lines: string[] = []) {
  return {
    tree: h.tree,
    good: h.commits[0],
    bad: 'HEAD',
    cases: ['madv_free.anon-thp-private'],
    patches: null,
    dir: join(h.dir, 'run'),
    repo: join(h.dir, 'cache/repo'),
    evaluate,
    reproduce: (c: string) => [`mmatrix run -k src:${h.tree},rev=${c} -c madv_free.anon-thp-private`],
    log: (l: string) => lines.push(l),
  };
}

const changedAt = (k: number) => (i: number) => (i >= k ? { ...BAD } : { ...GOOD });

test('eight commits on a base: the one that changed the cell, in ⌈log2 9⌉ + 1 builds, the ends included', async (t) => {
  for (const k of [1, 4, 5, 8]) {
    const h = history(8);
    const { asked, evaluate } = fakeStep(h.commits, changedAt(k));
    const lines: string[] = [];
    const r = await bisect(options(h, evaluate, lines));
    t.is(r.end?.kind, 'found');
    t.is(r.end?.kind === 'found' && r.end.commit, h.commits[k], `commit ${k}`);
    t.is(r.end?.kind === 'found' && r.end.subject, `mm: commit ${k}`);
    t.deepEqual(asked.slice(0, 2), [0, 8], 'the ends first');
    t.true(asked.length <= Math.ceil(Math.log2(9)) + 1, `${asked.length} builds`);
    t.is(new Set(asked).size, asked.length, 'no revision twice');
    t.is(r.revisions, 8);
    const saved = JSON.parse(readFileSync(join(h.dir, 'run/bisect.json'), 'utf8')) as BisectRecord;
    t.deepEqual(saved.end, r.end);
    t.regex(readFileSync(join(h.dir, 'run/git-bisect.log'), 'utf8'), /# first bad commit/);
    t.regex(lines.join('\n'), /step 1 of about 3: [0-9a-f]{12} mm: commit \d — built in 60 s, ran in 5 s: (good|bad)/);
    const text = renderBisect(r);
    t.regex(text, new RegExp(`First commit where the cells change: \\*\\*${h.commits[k]}\\*\\* mm: commit ${k}`));
    t.regex(text, /madv_free\.anon-thp-private: ok kept pmd → ok zeroed freed/);
    t.regex(text, /mmatrix run -k src:\S+,rev=[0-9a-f]{40} -c madv_free\.anon-thp-private/);
    t.false(existsSync(join(h.tree, '.git/BISECT_LOG')), "the user's tree is never bisected");
  }
});

test('interrupted, it resumes: the revisions tested before are not tested again', async (t) => {
  const h = history(8);
  const first = fakeStep(h.commits, changedAt(6), 3); // the ends and one step, then "Ctrl-C"
  await t.throwsAsync(bisect(options(h, first.evaluate)), { message: 'interrupted' });
  const saved = JSON.parse(readFileSync(join(h.dir, 'run/bisect.json'), 'utf8')) as BisectRecord;
  t.is(saved.steps.length, 3);
  t.is(saved.end, null);
  const again = fakeStep(h.commits, changedAt(6));
  const lines: string[] = [];
  const r = await bisect(options(h, again.evaluate, lines));
  t.is(r.end?.kind === 'found' && r.end.commit, h.commits[6]);
  t.deepEqual(
    again.asked.filter((i) => first.asked.includes(i)),
    [],
    'nothing tested twice',
  );
  t.true(first.asked.length + again.asked.length <= 5);
  t.regex(lines[0], /resuming: 3 revision\(s\) already tested/);
  const done = fakeStep(h.commits, changedAt(6));
  t.deepEqual((await bisect(options(h, done.evaluate))).end, r.end, 'a finished bisection answers from its record');
  t.deepEqual(done.asked, []);
});

test('a revision that does not build is skipped, never taken for a change', async (t) => {
  const h = history(8);
  const { asked, evaluate } = fakeStep(h.commits, (i) => (i === 4 || i === 2 ? null : changedAt(6)(i)));
  const r = await bisect(options(h, evaluate));
  t.is(r.end?.kind === 'found' && r.end.commit, h.commits[6]);
  t.true(asked.includes(4), 'the midpoint was tried');
  t.is(r.steps.find((s) => s.commit === h.commits[4])?.verdict, 'skip');
  t.is(r.steps.find((s) => s.commit === h.commits[4])?.failure, 'build: kernel build failed');
});

test('cells that match neither end are reported, not guessed: the change is then between two commits', async (t) => {
  const h = history(8);
  const { evaluate } = fakeStep(h.commits, (i) => (i === 5 ? { 'madv_free.anon-thp-private': 'ok mixed' } : changedAt(6)(i)));
  const r = await bisect(options(h, evaluate));
  t.is(r.steps.find((s) => s.commit === h.commits[5])?.verdict, 'neither');
  t.is(r.end?.kind, 'unresolved');
  t.deepEqual(
    r.end?.kind === 'unresolved' && [...r.end.candidates].sort(),
    [`${h.commits[5].slice(0, 12)} mm: commit 5`, `${h.commits[6].slice(0, 12)} mm: commit 6`].sort(),
  );
  const text = renderBisect(r);
  t.regex(text, /or whose cells match neither end \(1\)/);
  t.regex(text, /match neither end[^\n]*\n\n- [0-9a-f]{12} mm: commit 5: madv_free\.anon-thp-private: ok mixed/);
});

test('only unbuildable commits around the change: no single commit, the candidates listed', async (t) => {
  const h = history(4);
  const { evaluate } = fakeStep(h.commits, (i) => (i === 0 ? GOOD : i === 4 ? BAD : null));
  const r = await bisect(options(h, evaluate));
  t.is(r.end?.kind, 'unresolved');
  t.is(r.end?.kind === 'unresolved' && r.end.candidates.length, 4);
  t.regex(renderBisect(r), /No single commit: the change lies among commits that did not build or boot/);
});

test('bad input: a good end that does not build, ends that agree, a range that is not one', async (t) => {
  const h = history(3);
  await t.throwsAsync(bisect(options(h, fakeStep(h.commits, (i) => (i === 0 ? null : BAD)).evaluate)), {
    message: /the good revision \S+ gives no cells \(build: kernel build failed\): nothing to bisect against/,
  });
  const h2 = history(3);
  await t.throwsAsync(bisect(options(h2, fakeStep(h2.commits, () => GOOD).evaluate)), {
    message: /the cells are the same at \S+ and HEAD \(ok kept pmd\): nothing to bisect/,
  });
  const h3 = history(3);
  await t.throwsAsync(bisect({ ...options(h3, fakeStep(h3.commits, () => GOOD).evaluate), good: 'HEAD', bad: h3.commits[0] }), {
    message: /--good HEAD is not an ancestor of --bad/,
  });
  await t.throwsAsync(bisect({ ...options(h3, fakeStep(h3.commits, () => GOOD).evaluate), good: 'v9.9' }), { message: /has no commit 'v9\.9'/ });
  await t.throwsAsync(bisect({ ...options(h3, fakeStep(h3.commits, () => GOOD).evaluate), tree: h3.dir }), { message: /is not a git tree/ });
});
