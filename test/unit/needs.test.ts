// A case knows the huge pages it needs, a forked child's copies included: with too small a pool
// it is a SKIP naming the count, never a SIGBUS taken for the kernel's answer.
import test from 'ava';
import type { GuestEnv } from '../../suites/memtypes.js';
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
