// Each suite family's case builder, and every case id the suites can produce. The guest entry
// runs a family from here; the host uses the full list to check case patterns and the
// expectation table's coverage.
import type { Case } from '../guest/harness.js';
import { adviceCases } from './advice.js';
import { hangCases, panicCases } from './breakers.js';
import { FAMILIES, type GuestFamily } from './families.js';
import type { GuestEnv } from './memtypes.js';
import { mremapCases } from './mremap.js';
import { populateCases } from './populate.js';
import { resvCases } from './resv.js';
import { uffdCases } from './uffd.js';
import { uffdioCases } from './uffdio.js';
import { vmaCases } from './vma.js';
import { zapCases } from './zap.js';

export const BUILDERS: Record<GuestFamily, (env: GuestEnv) => Case[]> = {
  zap: zapCases,
  populate: populateCases,
  mremap: mremapCases,
  advice: adviceCases,
  resv: resvCases,
  vma: vmaCases,
  // The uffd family's two tables: registration, zap and touch, events; then the ioctls and huge-page granularity.
  uffd: (env) => [...uffdCases(env), ...uffdioCases(env)],
  panic: panicCases,
  hang: hangCases,
};

/** A guest with everything: both hugetlb pools, ext4, THP in madvise mode. */
export const FULL_ENV: GuestEnv = {
  hugePage: 2 << 20,
  pools: { [2 << 20]: 64, [1 << 30]: 2 },
  hugetlbfs: '/mnt/huge',
  hugetlbfs1g: '/mnt/huge1g',
  tmpfs: '/dev/shm',
  ext4: '/mnt/ext4',
  thp: 'madvise',
  swap: '/dev/vdc 65532 kB',
};

/** Every case id of the real (not test-only) families, in run order. */
export const allCaseIds = (env: GuestEnv = FULL_ENV): string[] => FAMILIES.flatMap((f) => BUILDERS[f](env).map((c) => c.id));
