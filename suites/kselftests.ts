// The kernel's mm selftests the kselftest family runs, as data: for each, the binary a tree
// builds (renamed across versions: the first the tree has is used), the arguments and the huge
// page pool its tree's run_vmtests.sh gives it, and the guest memory it needs. Run on the host
// side (runner/kselftest.ts); the guest only executes the binaries.
//
// run_vmtests.sh first raises the 2 MiB pool to 256 MiB (128 pages: "Simple hugetlbfs tests have
// a hardcoded minimum requirement of huge pages totaling 256MB"; 6.1 vm/run_vmtests.sh, 6.12 and
// 7.3 mm/run_vmtests.sh), and 6.1 mounts a hugetlbfs for the tests that take a file on one; the
// guest's own hugetlbfs is /mnt/huge.

export interface Invocation {
  name: string; // the row's name: kselftest.mm.<name>.<subtest>
  binaries: string[]; // what the tree may call it, newest name first
  args: string[];
  hugepages?: number; // 2 MiB pages in the pool while it runs (restored after)
  memoryMb?: number; // guest memory it needs
  timeoutS: number;
  where: string; // the run_vmtests.sh line this mirrors
}

interface Entry extends Omit<Invocation, 'args'> {
  args?: (version: string) => string[];
  trees?: (version: string) => boolean; // which trees run it so (default: all that build it)
}

const POOL = 128;
const below = (v: string, line: string) => compareVersions(v, line) < 0;

/** Kernel versions (6.1, 6.12, 7.3) in order; 'unknown' sorts last. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  if (pa.some(Number.isNaN) || pb.some(Number.isNaN)) return Number(pa.some(Number.isNaN)) - Number(pb.some(Number.isNaN));
  return pa[0] - pb[0] || (pa[1] ?? 0) - (pb[1] ?? 0);
}

const ENTRIES: Entry[] = [
  { name: 'madv_populate', binaries: ['madv_populate'], hugepages: POOL, timeoutS: 120, where: 'CATEGORY="madv_populate" run_test ./madv_populate' },
  {
    name: 'hugetlb-madvise',
    binaries: ['hugetlb-madvise'],
    // Until 6.2 it takes a file on a hugetlbfs (`run_test ./hugetlb-madvise "$mnt"/madvise-test`); later it uses a memfd.
    args: (v) => (below(v, '6.2') ? ['/mnt/huge/madvise-test'] : []),
    hugepages: POOL,
    timeoutS: 120,
    where: 'CATEGORY="hugetlb" run_test ./hugetlb-madvise',
  },
  {
    name: 'hugetlb-mremap',
    binaries: ['hugetlb-mremap', 'hugepage-mremap'],
    args: (v) => (below(v, '6.2') ? ['/mnt/huge/huge_mremap'] : []),
    hugepages: POOL,
    timeoutS: 120,
    where: 'CATEGORY="hugetlb" run_test ./hugetlb-mremap (./hugepage-mremap before 6.17)',
  },
  {
    name: 'hugetlb_madv_vs_map',
    binaries: ['hugetlb_madv_vs_map'],
    hugepages: 1, // 6.12: `echo 1 > /proc/sys/vm/nr_hugepages` around it
    timeoutS: 180,
    where: 'CATEGORY="hugetlb" run_test ./hugetlb_madv_vs_map',
  },
  { name: 'mremap_dontunmap', binaries: ['mremap_dontunmap'], hugepages: POOL, timeoutS: 120, where: 'CATEGORY="mremap" run_test ./mremap_dontunmap' },
  // Its 2 GB cases need the memory to pass the overcommit check.
  { name: 'mremap_test', binaries: ['mremap_test'], hugepages: POOL, memoryMb: 4608, timeoutS: 300, where: 'CATEGORY="mremap" run_test ./mremap_test' },
  {
    name: 'guard-regions',
    binaries: ['guard-regions', 'guard-pages'],
    hugepages: POOL,
    timeoutS: 300,
    where: 'CATEGORY="madv_guard" run_test ./guard-regions',
  },
  { name: 'uffd-unit-tests', binaries: ['uffd-unit-tests'], hugepages: POOL, timeoutS: 300, where: 'CATEGORY="userfaultfd" run_test ./uffd-unit-tests' },
  // Before 6.4 the userfaultfd tests were one program, run per memory type.
  ...(['anon', 'shmem'] as const).map((mode) => ({
    name: `userfaultfd@${mode}`,
    binaries: ['userfaultfd'],
    args: () => [mode, '20', '16'],
    hugepages: POOL,
    timeoutS: 300,
    trees: (v: string) => below(v, '6.4'),
    where: `run_test ./userfaultfd ${mode} 20 16`,
  })),
  { name: 'map_hugetlb', binaries: ['map_hugetlb'], hugepages: POOL, timeoutS: 60, where: 'CATEGORY="hugetlb" run_test ./map_hugetlb' },
  { name: 'map_fixed_noreplace', binaries: ['map_fixed_noreplace'], hugepages: POOL, timeoutS: 60, where: 'CATEGORY="mmap" run_test ./map_fixed_noreplace' },
];

/** Every selftest name the family knows. */
export const SELFTEST_NAMES = ENTRIES.map((e) => e.name);

/** Every binary name a build is asked for. */
export const selftestBinaries = (tests: string[]): string[] => [...new Set(chosen(tests).flatMap((e) => e.binaries))];

function chosen(tests: string[]): Entry[] {
  if (tests.length === 0) return ENTRIES;
  return ENTRIES.filter((e) => tests.some((t) => t === e.name || e.binaries.includes(t) || e.name.startsWith(`${t}@`)));
}

/** The tests a tree of `version` runs (of `tests`, or all), each with the first binary of its
 * names that `built` holds (the first name when none is: its row says it was not built). */
export function invocationsFor(version: string, tests: string[], built: string[] = []): (Invocation & { binary: string })[] {
  return chosen(tests)
    .filter((e) => !e.trees || e.trees(version))
    .map((e) => ({ ...e, args: e.args?.(version) ?? [], binary: e.binaries.find((b) => built.includes(b)) ?? e.binaries[0] }));
}

/** Guest memory the chosen tests need, MiB (0: no more than the default). */
export const selftestMemoryMb = (tests: string[]): number => Math.max(0, ...chosen(tests).map((e) => e.memoryMb ?? 0));

/** Names in `tests` the family does not know. */
export const unknownTests = (tests: string[]): string[] => tests.filter((t) => chosen([t]).length === 0);

/** Rows from a kernel's own tree are kselftest.mm.*; from another tree (--from-tree),
 * kselftest.mm@<its version>.*, so the two never share a row. */
export const selftestRowPrefix = (fromVersion: string | null): string => (fromVersion ? `kselftest.mm@${fromVersion}` : 'kselftest.mm');
