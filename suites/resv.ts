// The reservations family (seed 003): how HugePages_Rsvd and HugePages_Free move at each
// step of a hugetlb mapping's life: mmap, mmap with MAP_NORESERVE, the first-touch fault,
// and munmap (with the file still open). Every case must also leave the pool at its
// pre-case baseline once torn down (poolBalanced).
import type { Case } from '../guest/harness.js';
import { K, mm } from '../guest/native.js';
import { counters, delta, type Counters } from '../guest/proc.js';
import type { Observation } from '../guest/schema.js';
import type { GuestEnv, MapOptions, MemType, Region } from './memtypes.js';
import { PLAIN, product, record, withRegion } from './observe.js';

export interface ResvStep {
  id: string;
  map: MapOptions;
  /** Run the step; returns the counters to measure from (the step's start). */
  run(region: Region, beforeMmap: Counters): Counters;
}

const SEED = 0x7e;

export const RESV_STEPS: ResvStep[] = [
  { id: 'resv_mmap', map: {}, run: (_g, beforeMmap) => beforeMmap },
  { id: 'resv_mmap_noreserve', map: { flags: K.MAP_NORESERVE }, run: (_g, beforeMmap) => beforeMmap },
  {
    id: 'resv_fault',
    map: {},
    run: (g) => {
      const start = counters();
      if (!mm.fill(g.addr, g.len, SEED).ok) throw new Error('fill faulted');
      return start;
    },
  },
  {
    id: 'resv_munmap',
    map: {},
    // Touch, then unmap with the file still open: from before the mmap to after the munmap.
    run: (g, beforeMmap) => {
      if (!mm.fill(g.addr, g.len, SEED).ok) throw new Error('fill faulted');
      mm.munmap(g.addr, g.len);
      g.len = 0; // unmapped: teardown must not unmap that range again
      return beforeMmap;
    },
  },
];

const signed = (n: number) => (n >= 0 ? `+${n}` : `${n}`);

function observe(step: ResvStep, mt: MemType, env: GuestEnv, len: number): Observation {
  const beforeMmap = counters();
  return withRegion(mt, env, len, step.map, (region) => {
    const from = step.run(region, beforeMmap);
    const backing = delta(from, counters());
    return record(step.id, '', mt, len, { ret: 0 }, { backing });
  }, (o) => `rsvd${signed(o.backing!.hugeRsvd)} free${signed(o.backing!.hugeFree)}`);
}

export function resvCases(env: GuestEnv): Case[] {
  return product(env, RESV_STEPS, PLAIN, (_step, mt) => mt.hugetlb, (step, _v, mt, len) => observe(step, mt, env, len));
}
