// Guest entry point: `node suites/main.js <family>` runs one family's cases and prints TAP.
import { release } from 'node:os';
import { runCases, type Case } from '../guest/harness.js';
import { counters, hugePageSize, thpMode } from '../guest/proc.js';
import { Tap } from '../guest/tap.js';
import { isFamily, type Family } from './families.js';
import type { GuestEnv } from './memtypes.js';
import { adviceCases } from './advice.js';
import { mremapCases } from './mremap.js';
import { populateCases } from './populate.js';
import { resvCases } from './resv.js';
import { zapCases } from './zap.js';

const BUILDERS: Record<Family, (env: GuestEnv) => Case[]> = { zap: zapCases, populate: populateCases, mremap: mremapCases, advice: adviceCases, resv: resvCases };

function main(argv: string[]): number {
  const tap = new Tap();
  const family = argv[0] ?? '';
  if (!isFamily(family)) {
    tap.bail(`unknown suite family '${family}'`);
    return 2;
  }
  const env: GuestEnv = {
    hugePage: hugePageSize(),
    hugeFree: counters().hugeFree,
    hugetlbfs: process.env.MMATRIX_HUGETLBFS ?? '/mnt/huge',
    tmpfs: process.env.MMATRIX_TMPFS ?? '/dev/shm',
    thp: thpMode(),
  };
  const cases = BUILDERS[family](env);
  tap.comment(`kernel ${release()} hugepage ${env.hugePage} free ${env.hugeFree}`);
  return runCases(cases, tap) > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
