// Seed 004's experiment ("V. Single-threaded performance comparison" of the MADV_POPULATE_(READ|WRITE)
// patch): prefault page tables of a completely empty mapping or file, per backing, private and
// shared, with each method, `runs` times, and keep the shortest. Read / Write / Read/Write touch
// one byte of each 4 KiB page (timed in the addon); POPULATE_* is one madvise(2), FALLOCATE one
// fallocate(2) of the whole file (shared mappings with a file only), FALLOCATE+X both in a row.
import { K, mm } from '../guest/native.js';
import type { PopulateFigure, PopulateFigures } from '../guest/protocol.js';
import { type GuestEnv, MEMTYPES } from './memtypes.js';

/** The seed's backings, by its names, as mmatrix's memory types. */
export const SEED_BACKINGS: [string, string][] = [
  ['Anon 4 KiB', 'anon'],
  ['Anon 2 MiB', 'map-hugetlb'],
  ['Memfd 4 KiB', 'memfd'],
  ['Memfd 2 MiB', 'memfd-hugetlb'],
  ['tmpfs', 'tmpfs'],
  ['file', 'ext4'],
  ['hugetlbfs', 'hugetlbfs'],
];

export const TOUCHES = ['Read', 'Write', 'Read/Write'] as const;
export const POPULATES = ['POPULATE_READ', 'POPULATE_WRITE'] as const;
const METHODS = [...TOUCHES, ...POPULATES];

/** The seed's methods for a mapping: FALLOCATE and FALLOCATE+each only for shared file mappings. */
export const methodsFor = (shared: boolean, file: boolean): string[] =>
  shared && file ? [...METHODS, 'FALLOCATE', ...METHODS.map((m) => `FALLOCATE+${m}`)] : METHODS;

const ns = () => process.hrtime.bigint();

/** One method on a fresh region: its time in ms, or the errno / signal that stopped it. */
function once(step: string, addr: bigint, len: number, fd: number): number | string {
  if (TOUCHES.includes(step as (typeof TOUCHES)[number])) {
    const t = mm.touch(addr, len, TOUCHES.indexOf(step as (typeof TOUCHES)[number]) as 0 | 1 | 2);
    return t.ok ? t.ns / 1e6 : `${t.signal} at ${t.offset}`;
  }
  const t0 = ns();
  const r = step === 'FALLOCATE' ? mm.fallocate(fd, 0, 0, len) : mm.madvise(addr, len, step === 'POPULATE_READ' ? K.MADV_POPULATE_READ : K.MADV_POPULATE_WRITE);
  const took = Number(ns() - t0) / 1e6;
  return r.errno === undefined ? took : r.errno;
}

function timeMethod(memtype: string, method: string, len: number, env: GuestEnv, runs: number): { ms: number | null; error?: string } {
  const mt = MEMTYPES.find((m) => m.id === memtype)!;
  const why = mt.unavailable(env, len);
  if (why) return { ms: null, error: why };
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) {
    const r = mt.create(len, env); // an empty file (ftruncate) or fresh anonymous memory each run
    try {
      let total = 0;
      for (const step of method.split('+')) {
        const t = once(step, r.addr, len, r.fd);
        if (typeof t === 'string') return { ms: null, error: `${step}: ${t}` };
        total += t;
      }
      best = Math.min(best, total);
    } finally {
      r.close();
    }
  }
  return { ms: Math.round(best * 1000) / 1000 };
}

export function populateBench(env: GuestEnv, sizes: number[], runs: number): PopulateFigures {
  const figures: PopulateFigure[] = [];
  for (const size of sizes) {
    for (const shared of [false, true]) {
      for (const [backing, type] of SEED_BACKINGS) {
        const memtype = `${type}-${shared ? 'shared' : 'private'}`;
        const file = MEMTYPES.find((m) => m.id === memtype)!.file;
        for (const method of methodsFor(shared, file)) figures.push({ size, shared, backing, method, ...timeMethod(memtype, method, size, env, runs) });
      }
    }
  }
  return { runs, figures };
}
