// The coverage map: consistent with the suites (every case pattern names real cases, every test
// is one the kselftest family runs), and the disagreement between a selftest and its cells.
import test from 'ava';
import { patternRegex } from '../../guest/pattern.js';
import { COVERAGE_SCHEMA, type Coverage, coverageSection, coveringOf, disagreements, loadCoverage } from '../../reports/coverage.js';
import type { CaseResult } from '../../reports/results.js';
import { allCaseIds } from '../../suites/catalog.js';
import { SELFTEST_NAMES } from '../../suites/kselftests.js';
import { kernelResult, observedCase, resultsOf } from '../helpers/results.js';

const map = loadCoverage();
const ids = allCaseIds();

test('every case pattern of the map names a case of the suites', (t) => {
  for (const a of map.covered)
    for (const p of a.cases)
      t.true(
        ids.some((id) => patternRegex(p).test(id)),
        `${p} (${a.file}:${a.line}) matches no case`,
      );
});

test('every selftest the map names is one the kselftest family runs; every entry has a file and a line', (t) => {
  for (const a of [...map.covered, ...map.uncovered]) {
    t.true(SELFTEST_NAMES.includes(a.test), `${a.test} is not in suites/kselftests.ts`);
    t.regex(a.file, /^tools\/testing\/selftests\/mm\/[\w.-]+\.c$/);
    t.true(a.line > 0);
  }
  t.true(map.uncovered.length > 0, 'the map lists what no case covers');
});

test('the hugetlb zap cells are covered by a selftest line', (t) => {
  for (const id of ['madv_dontneed.hugetlbfs-private', 'madv_remove.hugetlbfs-shared', 'punch_hole.hugetlbfs-shared']) {
    t.true(coveringOf(map, id).length > 0, id);
  }
});

const fake: Coverage = {
  schema: COVERAGE_SCHEMA,
  tree: 'a tree',
  covered: [
    { cases: ['madv_dontneed@head.hugetlbfs-private'], test: 'hugetlb-madvise', subtest: null, file: 'f.c', line: 1, asserts: 'the end rounds down' },
    { cases: ['madv_populate_read.anon-private'], test: 'madv_populate', subtest: '*POPULATE_READ*', file: 'g.c', line: 2, asserts: 'populates' },
  ],
  uncovered: [],
};
const row = (id: string, result: 'PASS' | 'FAIL'): CaseResult => ({
  id,
  status: 'observed',
  selftest: { test: id.split('.')[2], subtest: id.split('.')[3] ?? null, result, tree: 't', command: 'c' },
});
const cell = (id: string, ok: boolean): CaseResult => ({
  ...observedCase(id, 'ok file freed'),
  verdict: ok ? { status: 'conformant', expected: 'ok file freed', source: 's' } : { status: 'deviation', expected: 'EINVAL', source: 's' },
});

test('a selftest FAIL beside conforming cells, or a PASS beside a deviating cell, is a disagreement; agreement is not', (t) => {
  const r = resultsOf([
    kernelResult({ release: '6.1.0', cases: [row('kselftest.mm.hugetlb-madvise', 'FAIL'), cell('madv_dontneed@head.hugetlbfs-private', true)] }),
    kernelResult({
      release: '6.12.0',
      cases: [row('kselftest.mm.madv_populate.x.MADV_POPULATE_READ', 'PASS'), cell('madv_populate_read.anon-private', false)],
    }),
    kernelResult({ release: '7.3.0', cases: [row('kselftest.mm.hugetlb-madvise', 'PASS'), cell('madv_dontneed@head.hugetlbfs-private', true)] }),
  ]);
  const d = disagreements(r, fake);
  t.deepEqual(
    d.map((x) => [x.kernel, x.selftest]),
    [
      ['6.1.0', 'kselftest.mm.hugetlb-madvise FAIL'],
      ['6.12.0', 'kselftest.mm.madv_populate.x.MADV_POPULATE_READ PASS'],
    ],
  );
  t.regex(coverageSection(r, fake).join('\n'), /### Selftests and cells that disagree: one of them is wrong\n\n- ✗ \*\*6\.1\.0\*\*/);
});

test("another tree's rows (--from-tree) never make a disagreement: an older kernel lacks what a newer test checks", (t) => {
  const r = resultsOf([
    kernelResult({ release: '6.1.0', cases: [row('kselftest.mm@7.3.hugetlb-madvise', 'FAIL'), cell('madv_dontneed@head.hugetlbfs-private', true)] }),
  ]);
  t.deepEqual(disagreements(r, fake), []);
});
