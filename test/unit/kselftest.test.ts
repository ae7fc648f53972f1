// The kselftest family's pure parts: KTAP read with tap-parser, kselftest's exit codes, the rows
// one invocation gives, and the test table (which binary and arguments a tree's version gets).
import test from 'ava';
import { guestCommand, rowsOf } from '../../runner/kselftest.js';
import { exitResult, parseKtap, subtestKey } from '../../runner/ktap.js';
import { compareVersions, invocationsFor, SELFTEST_NAMES, selftestBinaries, selftestMemoryMb, unknownTests } from '../../suites/kselftests.js';

const KSFT = `TAP version 13
1..5
# [RUN] test_prot_read
ok 1 MADV_POPULATE_READ with PROT_READ
# [RUN] test_populate_read
ok 2 range initially not populated
# [RUN] test_populate_write
ok 3 range initially not populated
# hugetlb-madvise.c:212: Unexpected number of free huge pages
not ok 4 MADV_DONTNEED frees the pages
ok 5 # SKIP MADV_POPULATE_WRITE on hugetlb: no pages
# Totals: pass:3 fail:1 xfail:0 xpass:0 skip:1 error:0
`;

const HARNESS = `TAP version 13
1..3
# Starting 3 tests from 1 test cases.
#  RUN           guard_regions.anon.basic ...
#            OK  guard_regions.anon.basic
ok 1 guard_regions.anon.basic
#  RUN           guard_regions.anon.multi ...
# guard-regions.c:300:multi:Expected ptr (0x1) == MAP_FAILED (0xffffffffffffffff)
#          FAIL  guard_regions.anon.multi
not ok 2 guard_regions.anon.multi
ok 3 guard_regions.shmem.basic # XFAIL not on shmem yet
`;

test('kselftest.h output: one result per point, names kept apart by their [RUN] group, failing lines kept', (t) => {
  const p = parseKtap(KSFT);
  t.true(p.tap);
  t.is(p.planned, 5);
  t.deepEqual(
    p.subtests.map((s) => [s.name, s.result]),
    [
      ['test_prot_read.MADV_POPULATE_READ_with_PROT_READ', 'PASS'],
      ['test_populate_read.range_initially_not_populated', 'PASS'],
      ['test_populate_write.range_initially_not_populated', 'PASS'],
      ['test_populate_write.MADV_DONTNEED_frees_the_pages', 'FAIL'],
      ['test_populate_write.MADV_POPULATE_WRITE_on_hugetlb:_no_pages', 'SKIP'],
    ],
  );
  t.regex(p.subtests[3].detail ?? '', /hugetlb-madvise\.c:212/);
  t.is(p.subtests[0].detail, undefined, 'a pass carries no detail');
});

test('kselftest_harness output: fixture.variant.test names, the assertion line on a failure, XFAIL', (t) => {
  const p = parseKtap(HARNESS);
  t.deepEqual(
    p.subtests.map((s) => [s.name, s.result]),
    [
      ['guard_regions.anon.basic', 'PASS'],
      ['guard_regions.anon.multi', 'FAIL'],
      ['guard_regions.shmem.basic', 'XFAIL'],
    ],
  );
  t.regex(p.subtests[1].detail ?? '', /guard-regions\.c:300:multi/);
});

test('a repeated name gets #2; text without TAP is no TAP', (t) => {
  t.deepEqual(
    parseKtap('1..2\nok 1 same\nok 2 same\n').subtests.map((s) => s.name),
    ['same', 'same#2'],
  );
  const plain = parseKtap('Unexpected number of free huge pages line 212\n');
  t.false(plain.tap);
  t.deepEqual(plain.subtests, []);
});

test("exit codes are kselftest's: 0 pass, 4 skip, 2 xfail, else (3 xpass too) fail", (t) => {
  t.deepEqual([0, 1, 2, 3, 4, 139, null].map(exitResult), ['PASS', 'FAIL', 'XFAIL', 'FAIL', 'SKIP', 'FAIL', 'FAIL']);
});

test('subtest keys have no spaces or pattern characters', (t) => {
  t.is(subtestKey(' MADV_POPULATE_READ with {holes} * here '), 'MADV_POPULATE_READ_with_holes_here');
  t.is(subtestKey('   '), 'unnamed');
});

const inv = {
  name: 'hugetlb-madvise',
  binaries: ['hugetlb-madvise'],
  binary: 'hugetlb-madvise',
  args: ['/mnt/huge/x'],
  hugepages: 128,
  timeoutS: 120,
  where: '',
};

test('rows of one invocation: a row per point and the exit code as the test row', (t) => {
  const rows = rowsOf('kselftest.mm', inv, 'tree', 'cmd', KSFT, 1, 10);
  t.deepEqual(
    rows.map((r) => [r.id, r.status, r.selftest?.result]),
    [
      ['kselftest.mm.hugetlb-madvise.test_prot_read.MADV_POPULATE_READ_with_PROT_READ', 'observed', 'PASS'],
      ['kselftest.mm.hugetlb-madvise.test_populate_read.range_initially_not_populated', 'observed', 'PASS'],
      ['kselftest.mm.hugetlb-madvise.test_populate_write.range_initially_not_populated', 'observed', 'PASS'],
      ['kselftest.mm.hugetlb-madvise.test_populate_write.MADV_DONTNEED_frees_the_pages', 'observed', 'FAIL'],
      ['kselftest.mm.hugetlb-madvise.test_populate_write.MADV_POPULATE_WRITE_on_hugetlb:_no_pages', 'skip', 'SKIP'],
      ['kselftest.mm.hugetlb-madvise', 'observed', 'FAIL'],
    ],
  );
  t.is(rows.at(-1)?.selftest?.exit, 1);
});

test('a test printing no TAP is judged by its exit code, its last lines kept', (t) => {
  const [row] = rowsOf('kselftest.mm', inv, 'tree', 'cmd', 'Unexpected number of free huge pages line 212\n', 1, 5);
  t.is(row.id, 'kselftest.mm.hugetlb-madvise');
  t.is(row.selftest?.result, 'FAIL');
  t.regex(row.selftest?.detail ?? '', /line 212/);
  t.is(rowsOf('kselftest.mm', inv, 'tree', 'cmd', '', 4, 5)[0].status, 'skip');
  t.is(rowsOf('kselftest.mm', inv, 'tree', 'cmd', '', 0, 5)[0].selftest?.result, 'PASS');
});

test('killed by its timeout: a hung test; a stream short of its plan fails the test row even at exit 0', (t) => {
  const killed = rowsOf('kselftest.mm', inv, 'tree', 'cmd', '1..3\nok 1 a\n', 137, 5);
  t.deepEqual(
    killed.map((r) => [r.id, r.status]),
    [
      ['kselftest.mm.hugetlb-madvise.a', 'observed'],
      ['kselftest.mm.hugetlb-madvise', 'timeout'],
    ],
  );
  t.regex(killed[1].reason ?? '', /^hung test/);
  const short = rowsOf('kselftest.mm', inv, 'tree', 'cmd', '1..3\nok 1 a\n', 0, 5).at(-1);
  t.is(short?.selftest?.result, 'FAIL');
  t.regex(short?.selftest?.detail ?? '', /planned 3 results, printed 1/);
});

test('the guest command sets the pool, bounds the test with a timeout and restores the pool', (t) => {
  const cmd = guestCommand(inv, 64);
  t.is(
    cmd,
    "cd /tmp/kselftest && echo 128 > /proc/sys/vm/nr_hugepages; timeout -s KILL 120 ./hugetlb-madvise '/mnt/huge/x' 2>&1; rc=$?; echo 64 > /proc/sys/vm/nr_hugepages; exit $rc",
  );
});

test('the table: binaries and arguments by tree version', (t) => {
  t.true(compareVersions('6.1', '6.12') < 0);
  t.true(compareVersions('7.3', '6.12') > 0);
  const old = invocationsFor('6.1', [], ['hugepage-mremap', 'hugetlb-madvise', 'userfaultfd']);
  const mremap = old.find((i) => i.name === 'hugetlb-mremap');
  t.is(mremap?.binary, 'hugepage-mremap', 'the name the tree builds');
  t.deepEqual(mremap?.args, ['/mnt/huge/huge_mremap'], '6.1 takes a file on a hugetlbfs');
  t.true(old.some((i) => i.name === 'userfaultfd@anon'));
  const now = invocationsFor('7.3', [], ['hugetlb-mremap']);
  t.is(now.find((i) => i.name === 'hugetlb-mremap')?.binary, 'hugetlb-mremap');
  t.deepEqual(now.find((i) => i.name === 'hugetlb-madvise')?.args, []);
  t.false(
    now.some((i) => i.name.startsWith('userfaultfd@')),
    'uffd-unit-tests replaced it in 6.4',
  );
  t.deepEqual(
    invocationsFor('6.12', ['madv_populate']).map((i) => i.name),
    ['madv_populate'],
  );
  t.deepEqual(unknownTests(['madv_populate', 'nosuch']), ['nosuch']);
  t.true(selftestBinaries(['hugetlb-mremap']).includes('hugepage-mremap'));
  t.is(selftestMemoryMb(['madv_populate']), 0);
  t.true(selftestMemoryMb([]) >= 4096, "mremap_test's 2 GB cases");
  t.true(SELFTEST_NAMES.length >= 8);
});

test("ok N # XFAIL <what> is named by what follows; uffd-unit-tests' own lines are points", (t) => {
  t.deepEqual(
    parseKtap('1..1\nok 1 # XFAIL mremap - Source and Destination Regions Overlapping\n').subtests.map((s) => [s.name, s.result]),
    [['mremap_-_Source_and_Destination_Regions_Overlapping', 'XFAIL']],
  );
  const u = parseKtap(
    'Testing UFFDIO_API (with syscall)... done\nTesting wp-fork-pin on anon... skipped [reason: Possibly CONFIG_GUP_TEST missing or unprivileged]\nTesting move on anon... failed [reason: UFFDIO_MOVE]\nUserfaults unit tests: pass=1, skip=1, fail=1 (total=3)\n',
  );
  t.false(u.tap);
  t.deepEqual(
    u.subtests.map((s) => [s.name, s.result, s.detail]),
    [
      ['UFFDIO_API_with_syscall', 'PASS', undefined],
      ['wp-fork-pin_on_anon', 'SKIP', 'Possibly CONFIG_GUP_TEST missing or unprivileged'],
      ['move_on_anon', 'FAIL', 'UFFDIO_MOVE'],
    ],
  );
});
