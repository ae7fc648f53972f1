// Guest entry point: `node suites/main.js <family> [--after=<id>] [pattern…]` runs one family's
// cases (those whose id matches a pattern, when given; only those after <id>) and prints TAP.
import { release } from 'node:os';
import { runCases } from '../guest/harness.js';
import { caseFilter } from '../guest/pattern.js';
import { existsSync, readFileSync } from 'node:fs';
import { hugePools, hugePageSize, thpMode } from '../guest/proc.js';
import { Tap } from '../guest/tap.js';
import { BUILDERS } from './catalog.js';
import { isFamily } from './families.js';
import type { GuestEnv } from './memtypes.js';

/** `dir` when a filesystem of `type` is mounted there, else null. /init mounts the scratch disk
 * in the background and marks the end of that step: wait for the mark (it comes within a second
 * or two of SSH) so the answer does not depend on timing. */
function mounted(dir: string, type: string, ready = '/run/mmatrix-ext4.done'): string | null {
  const deadline = Date.now() + 30_000;
  while (!existsSync(ready) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  if (!existsSync('/proc/mounts')) return null;
  return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => { const f = l.split(' '); return f[1] === dir && f[2] === type; }) ? dir : null;
}

function main(argv: string[]): number {
  const tap = new Tap();
  const family = argv[0] ?? '';
  if (!isFamily(family)) {
    tap.bail(`unknown suite family '${family}'`);
    return 2;
  }
  const env: GuestEnv = {
    hugePage: hugePageSize(),
    pools: Object.fromEntries([...hugePools()].map(([size, p]) => [size, p.free])),
    hugetlbfs: process.env.MMATRIX_HUGETLBFS ?? '/mnt/huge',
    hugetlbfs1g: process.env.MMATRIX_HUGETLBFS_1G ?? '/mnt/huge1g',
    tmpfs: process.env.MMATRIX_TMPFS ?? '/dev/shm',
    ext4: mounted(process.env.MMATRIX_EXT4 ?? '/mnt/ext4', 'ext4'),
    thp: thpMode(),
  };
  // --after=<id>: resume behind a case that took the previous guest down.
  const after = argv.find((a) => a.startsWith('--after='))?.slice('--after='.length);
  const keep = caseFilter(argv.slice(1).filter((a) => !a.startsWith('--')));
  let cases = BUILDERS[family](env).filter((c) => keep(c.id));
  if (after !== undefined) cases = cases.slice(cases.findIndex((c) => c.id === after) + 1);
  const pools = Object.entries(env.pools).map(([size, free]) => `${Number(size) >> 20}M:${free}`).join(' ');
  tap.comment(`kernel ${release()} hugepage ${env.hugePage} free ${pools} ext4 ${env.ext4 ?? 'none'}`);
  return runCases(cases, tap) > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
