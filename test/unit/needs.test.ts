// A case knows the huge pages it needs, a forked child's copies included: with too small a pool
// it is a SKIP naming the count, never a SIGBUS taken for the kernel's answer. And the region
// each kind of memory gets.
import test from 'ava';
import { ADVICE_OPS } from '../../suites/advice.js';
import { type GuestEnv, MEMTYPES } from '../../suites/memtypes.js';
import { BASE_LEN, caseLength, PMD_PAIR } from '../../suites/observe.js';
import { resvCases } from '../../suites/resv.js';

const GIB = 1 << 30;
const env = (gigantic: number): GuestEnv => ({
  hugePage: 2 << 20,
  pools: { [2 << 20]: 64, [GIB]: gigantic },
  hugetlbfs: '/mnt/huge',
  hugetlbfs1g: '/mnt/huge1g',
  swap: 'none',
  tmpfs: '/dev/shm',
  ext4: null,
  thp: 'madvise',
});
const skipOf = (e: GuestEnv, id: string) => resvCases(e).find((c) => c.id === id)!.skip ?? null;

test("resv_fork on a private 1 GiB mapping needs the child's two pages too", (t) => {
  t.is(skipOf(env(2), 'resv_fork.hugetlbfs-1g-private'), 'need 4 free 1024 MiB huge pages, pool has 2');
  t.is(skipOf(env(2), 'resv_fork.map-hugetlb-1g-private'), 'need 4 free 1024 MiB huge pages, pool has 2');
  t.is(skipOf(env(4), 'resv_fork.hugetlbfs-1g-private'), null);
  t.is(skipOf(env(2), 'resv_fork.hugetlbfs-1g-shared'), null, "a shared child writes the parent's pages");
  t.is(skipOf(env(2), 'resv_fault.hugetlbfs-1g-private'), null);
  t.is(skipOf(env(2), 'resv_fork.hugetlbfs-private'), null, 'the 2 MiB pool has room');
});

test('a region is two huge pages, two PMDs where PMDs are the question, else 512 KiB', (t) => {
  const e = env(2);
  const of = (id: string) => MEMTYPES.find((m) => m.id === id)!;
  t.is(caseLength(e, of('hugetlbfs-private')), 4 << 20);
  t.is(caseLength(e, of('memfd-hugetlb-1g-shared')), 2 * GIB);
  t.is(caseLength(e, of('anon-thp-private')), PMD_PAIR);
  t.is(caseLength(e, of('anon-private')), BASE_LEN);
  t.is(caseLength(e, of('ext4-shared'), { pmds: true }), PMD_PAIR, 'MADV_COLLAPSE needs a PMD to build');
  const collapse = ADVICE_OPS.find((o) => o.id === 'madv_collapse')!;
  t.true(collapse.pmds, 'the one operation whose question is PMDs on every type');
  t.true(ADVICE_OPS.every((o) => o === collapse || !o.pmds));
});
