// The changes between adjacent kernels, grouped by the expectation entry that explains them,
// as matrix.md and matrix.html show them.
import test from 'ava';
import { commitOf, kernelChanges, summaryOf } from '../../reports/changes.js';
import { renderHtml } from '../../reports/html.js';
import { changesSection } from '../../reports/markdown.js';
import type { CaseResult } from '../../reports/results.js';
import { kernelResult, observedCase, resultsOf } from '../helpers/results.js';

const SRC =
  'commit 90e7e7f5ef3f "mm: enable MADV_DONTNEED for hugetlb mappings" (v5.18); commit df7a6d1f6405 "mm/hugetlb: restore the reservation if needed" (Breno Leitao, v6.9)';
const judged = (id: string, label: string, status: 'conformant' | 'deviation' | 'none', source = SRC): CaseResult => ({
  ...observedCase(id, label),
  verdict: status === 'none' ? { status } : { status, expected: label, source },
});
/** One kernel's column: x and y judged by the entry, z by none, `same` as given. */
const column = (release: string, x: string, y: string, z: string, same: CaseResult) =>
  kernelResult({
    release,
    id: release,
    cases: [judged('x.anon-private', x, 'conformant'), judged('y.anon-private', y, 'conformant'), judged('z.anon-private', z, 'none'), same],
  });
const same = judged('same.anon-private', 'ok', 'conformant');
const run = resultsOf([
  column('5.10.0-32-amd64', 'EINVAL', 'EINVAL', 'ok kept', same),
  column('6.1.0-50-amd64', 'ok zeroed freed', 'ok kept', 'ok zeroed', same),
  column('6.12.117+deb13-amd64', 'ok zeroed rsvd', 'ok kept', 'ok zeroed', { id: 'same.anon-private', status: 'skip', reason: 'r' }),
]);

test('changes are grouped by the entry that predicted both labels; the rest by no entry, last', (t) => {
  const [first, second] = kernelChanges(run);
  t.is(first.from, '5.10.0-32-amd64');
  t.is(first.to, '6.1.0-50-amd64');
  t.is(first.total, 3);
  t.deepEqual(
    first.groups.map((g) => [g.source === null ? null : 'entry', g.changes.map((c) => c.id)]),
    [
      ['entry', ['x.anon-private', 'y.anon-private']],
      [null, ['z.anon-private']],
    ],
  );
  t.is(first.groups[0].commit?.hash, '90e7e7f5ef3f', 'the commit between 5.10 and 6.1');
  t.is(second.groups[0].commit?.hash, 'df7a6d1f6405', 'the commit between 6.1 and 6.12');
  t.deepEqual(
    second.groups.map((g) => g.changes.map((c) => `${c.id} ${c.from} → ${c.to}`)),
    [['x.anon-private ok zeroed freed → ok zeroed rsvd'], ['same.anon-private ok → SKIP']],
    'a cell that became a SKIP changed too, and no entry explains it',
  );
  t.true(
    kernelChanges(run).every((p) => p.groups.every((g) => g.changes.length > 0)),
    'no group is empty',
  );
});

test('a source names its commit with a hash, or a title alone', (t) => {
  t.deepEqual(commitOf(SRC), {
    hash: '90e7e7f5ef3f',
    title: 'mm: enable MADV_DONTNEED for hugetlb mappings',
    url: 'https://git.kernel.org/torvalds/c/90e7e7f5ef3f',
  });
  t.is(commitOf(SRC, '6.1.0', '6.12.1')?.hash, 'df7a6d1f6405');
  t.deepEqual(commitOf('"hugetlbfs: zero partial pages during fallocate hole punch" (Mike Kravetz)'), {
    hash: null,
    title: 'hugetlbfs: zero partial pages during fallocate hole punch',
    url: null,
  });
  t.is(commitOf('madvise(2) ERRORS'), null);
  t.deepEqual(
    commitOf('"mm, hugepages: add mremap() support for hugepage backed vma" (v5.14)')?.title,
    'mm, hugepages: add mremap() support for hugepage backed vma',
  );
});

test("a quote that is not a commit's title is not taken for one", (t) => {
  // Seed 002's phrase, a man page's sentence: no commit named, so none claimed.
  t.is(commitOf('MADV_DONTNEED only zaps page-table entries ("MADV_DONTNEED works but not guaranteed to fault"); a punch removes pages'), null);
  t.is(commitOf('madvise(2): "Addresses in the specified range are not currently mapped"'), null);
  // A bare hash after its release counts when that release lies between the two kernels.
  const several =
    'MINOR came in 5.13 (7677f7fd8be7), hugetlb DONTNEED in 5.18 (90e7e7f5ef3f); from 6.1 ("hugetlbfs: zero partial pages during fallocate hole punch")';
  t.is(commitOf(several, '5.15.0', '6.1.0')?.hash, '90e7e7f5ef3f');
  t.is(commitOf(several, '5.10.0', '6.1.0')?.hash, '7677f7fd8be7');
  t.is(
    commitOf('as "mm/uffd: enable write protection for shmem & hugetlbfs" says, after "Read-Write Protection"')?.title,
    'mm/uffd: enable write protection for shmem & hugetlbfs',
  );
});

test("a line that names no commit gives the source's first clause, not the whole source", (t) => {
  t.is(summaryOf('Seed 002 as a table: the range is filled, registered with userfaultfd, zapped'), 'Seed 002 as a table');
  t.is(
    summaryOf('mremap(2) ERRORS (EFAULT: "some address in the range ... is not mapped. "); we check it'),
    'mremap(2) ERRORS (EFAULT: "some address in the range ... is not mapped. ")',
  );
  t.is(summaryOf('v5.10 mm/madvise.c: madvise_behavior_valid()'), 'v5.10 mm/madvise.c');
  const long = summaryOf(`Filled, registered MINOR, ${'then more words '.repeat(20)}end.`);
  t.true(long.length <= 101 && long.endsWith('…'), long);
});

test('matrix.md says the changes in a few lines a pair, and matrix.html carries them', (t) => {
  const md = changesSection(run).join('\n');
  t.regex(md, /## Changes between kernels/);
  t.regex(md, /\*\*5\.10\.0-32-amd64 → 6\.1\.0-50-amd64\*\*: 3 changed cells/);
  t.regex(
    md,
    /2 × \[90e7e7f5ef3f\]\(https:\/\/git\.kernel\.org\/torvalds\/c\/90e7e7f5ef3f\) mm: enable MADV_DONTNEED for hugetlb mappings: `x\.anon-private` EINVAL → ok zeroed freed/,
  );
  t.regex(md, /1 × \*\*no expectation entry explains these\*\*: `z\.anon-private` ok kept → ok zeroed/);
  t.true(renderHtml(run).includes('"changes":[{"from":"5.10.0-32-amd64"'));
  t.deepEqual(changesSection(resultsOf([kernelResult()])), [], 'one kernel: no section');
});

test("matrix.md gives entries that cite one commit one line, with the commit's title from whichever names it", (t) => {
  const a = (src: string, id: string, label: string): CaseResult => judged(id, label, 'conformant', src);
  const one = 'commit 4ca9b3859dac (v5.14): EFAULT where a touch meets SIGBUS';
  const two = 'commit 4ca9b3859dac "mm/madvise: introduce MADV_POPULATE_(READ|WRITE) to prefault page tables" (v5.14)';
  const r = resultsOf([
    kernelResult({ release: '5.10.0', id: 'a', cases: [a(one, 'p.anon-private', 'EINVAL'), a(two, 'q.anon-private', 'EINVAL')] }),
    kernelResult({ release: '6.1.0', id: 'b', cases: [a(one, 'p.anon-private', 'EFAULT'), a(two, 'q.anon-private', 'ok present')] }),
  ]);
  t.is(kernelChanges(r)[0].groups.length, 2, 'matrix.html keeps the two entries apart');
  const lines = changesSection(r).filter((l) => l.startsWith('  - '));
  t.is(lines.length, 1);
  t.regex(lines[0], /^ {2}- 2 × \[4ca9b3859dac\]\(\S+\) mm\/madvise: introduce MADV_POPULATE_\(READ\\\|WRITE\) to prefault page tables: /);
});
