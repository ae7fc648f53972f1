// Guest entry point: `node suites/main.js` answers the runner's requests on stdin, one JSON
// line each (guest/protocol.ts's Request): a family's cases as TAP, the huge page pools or the
// guest's facts as JSON. By hand in a guest:
//   echo '{"kind":"family","family":"zap","patterns":["*.memfd-*"]}' | node suites/main.js

import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { runCases } from '../guest/harness.js';
import { consoleAnnouncer } from '../guest/kmsg.js';
import { caseFilter } from '../guest/pattern.js';
import { hugePageSize, hugePools, thpMode } from '../guest/proc.js';
import { EXT4_DONE, encodeAnswer, type GuestFacts, poolKey, type Request } from '../guest/protocol.js';
import { serve } from '../guest/serve.js';
import { Tap, writeOut } from '../guest/tap.js';
import { BUILDERS } from './catalog.js';
import { type GuestFamily, isFamily, isHostFamily, TEST_FAMILIES } from './families.js';
import type { GuestEnv } from './memtypes.js';
import { populateBench } from './popbench.js';

/** `dir` when a filesystem of `type` is mounted there, else null. /init mounts the scratch disk
 * in the background and marks the end of that step: wait for the mark (it comes within a second
 * or two of SSH) so the answer does not depend on timing. */
/** The active swap devices and their sizes, from /proc/swaps (read after the scratch disks are ready). */
function swaps(): string {
  const lines = existsSync('/proc/swaps') ? readFileSync('/proc/swaps', 'utf8').trim().split('\n').slice(1) : [];
  const devices = lines.map((l) => l.split(/\s+/)).map(([dev, , size]) => `${dev} ${size} kB`);
  return devices.length ? devices.join(', ') : 'none';
}

function mounted(dir: string, type: string, ready = EXT4_DONE): string | null {
  const deadline = Date.now() + 30_000;
  while (!existsSync(ready) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  if (!existsSync('/proc/mounts')) return null;
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => {
      const f = l.split(' ');
      return f[1] === dir && f[2] === type;
    })
    ? dir
    : null;
}

/** What the cases need to know of this guest: pools, mounts, THP, swap. */
function guestEnv(): GuestEnv {
  return {
    hugePage: hugePageSize(),
    pools: Object.fromEntries([...hugePools()].map(([size, p]) => [size, p.free])),
    hugetlbfs: process.env.MMATRIX_HUGETLBFS ?? '/mnt/huge',
    hugetlbfs1g: process.env.MMATRIX_HUGETLBFS_1G ?? '/mnt/huge1g',
    tmpfs: process.env.MMATRIX_TMPFS ?? '/dev/shm',
    ext4: mounted(process.env.MMATRIX_EXT4 ?? '/mnt/ext4', 'ext4'),
    thp: thpMode(),
    swap: swaps(),
  };
}

function runFamily(req: Extract<Request, { kind: 'family' }>): number {
  const tap = new Tap();
  const family = req.family;
  const known = (isFamily(family) && !isHostFamily(family)) || (req.test === true && (TEST_FAMILIES as readonly string[]).includes(family));
  if (!known) {
    tap.bail(`unknown suite family '${family}'`);
    return 2;
  }
  const env = guestEnv();
  const keep = caseFilter(req.patterns ?? []);
  let cases = BUILDERS[family as GuestFamily](env).filter((c) => keep(c.id));
  if (req.after) cases = cases.slice(cases.findIndex((c) => c.id === req.after) + 1);
  if (req.exclude) cases = cases.filter((c) => !req.exclude!.includes(c.id));
  const pools = Object.entries(env.pools)
    .map(([size, free]) => `${Number(size) >> 20}M:${free}`)
    .join(' ');
  tap.comment(`kernel ${release()} hugepage ${env.hugePage} free ${pools} ext4 ${env.ext4 ?? 'none'} swap ${env.swap}`);
  return runCases(cases, tap, undefined, undefined, req.console ? consoleAnnouncer() : null) > 0 ? 1 : 0;
}

/** Each huge page pool's free and reserved pages, as one JSON line. */
function printPools(): number {
  writeOut(encodeAnswer(Object.fromEntries([...hugePools()].map(([size, p]) => [poolKey(size), { free: p.free, rsvd: p.rsvd }]))));
  return 0;
}

/** What the run records of the guest, as one JSON line. */
function printFacts(): number {
  const read = (path: string, fallback: string) => (existsSync(path) ? readFileSync(path, 'utf8').trim() : fallback);
  const pageKb = /^KernelPageSize:\s+(\d+)/m.exec(readFileSync('/proc/self/smaps', 'utf8'))?.[1];
  const facts: GuestFacts = {
    release: release(),
    hugePageKb: hugePageSize() / 1024,
    hugepagesObtained: Number(read('/proc/sys/vm/nr_hugepages', '0')),
    gigantic: Number(read('/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages', '0')),
    thp: thpMode(),
    cmdline: read('/proc/cmdline', ''),
    pageSize: pageKb ? Number(pageKb) * 1024 : 4096,
  };
  writeOut(encodeAnswer(facts));
  return 0;
}

/** Seed 004's timing experiment, as one JSON line. */
function printPopulate(req: Extract<Request, { kind: 'populate' }>): number {
  writeOut(encodeAnswer(populateBench(guestEnv(), req.sizes, req.runs)));
  return 0;
}

serve((req) => (req.kind === 'pools' ? printPools() : req.kind === 'facts' ? printFacts() : req.kind === 'populate' ? printPopulate(req) : runFamily(req)));
