// The reservations family (seed 003): how HugePages_Rsvd and HugePages_Free move at each
// step of a hugetlb mapping's life: mmap, mmap with MAP_NORESERVE, the first-touch fault,
// each zap of the faulted range, an mremap move, a fork whose child writes the range (a
// private mapping's COW), and munmap with the file still open. Every case must also leave
// the pool at its pre-case baseline once torn down (poolBalanced): a leak or an underflow
// shows up there.
import type { Case } from '../guest/harness.js';
import { K, mm } from '../guest/native.js';
import { type Counters, counters, delta } from '../guest/proc.js';
import type { Observation } from '../guest/protocol.js';
import { alignedHole, type GuestEnv, type MapOptions, type MemType, type Region } from './memtypes.js';
import { PLAIN, product, record, withRegion } from './observe.js';
import { ZAP_OPS } from './zap.js';

/** What a step did: the counters to measure from (and to, when not "now"), the call's result,
 * and for a fork what the child's writes met. */
interface Step {
  from: Counters;
  to?: Counters;
  r?: { errno?: string; ret?: number };
  child?: string;
}

export interface ResvStep {
  id: string;
  map: MapOptions;
  applies(mt: MemType): boolean;
  /** How many case lengths of pool the step needs (default 1). */
  lengthsNeeded?: (mt: MemType) => number;
  run(region: Region, beforeMmap: Counters, align: number): Step;
}

const SEED = 0x7e;

function touch(g: Region): Counters {
  const f = mm.fill(g.addr, g.len, SEED);
  if (!f.ok) throw new Error(`fill faulted: ${f.signal} at ${f.offset}`);
  return counters();
}

const always = () => true;

/** Fault the range in, then apply one zap operation to all of it. */
const afterZap = ZAP_OPS.map(
  (op): ResvStep => ({
    id: `resv_${op.id}`,
    map: {},
    applies: (mt) => op.applies(mt),
    run: (g) => {
      const from = touch(g);
      return { from, r: op.apply(g, { addr: g.addr, offset: 0, len: g.len }) };
    },
  }),
);

export const RESV_STEPS: ResvStep[] = [
  { id: 'resv_mmap', map: {}, applies: always, run: (_g, beforeMmap) => ({ from: beforeMmap }) },
  { id: 'resv_mmap_noreserve', map: { flags: K.MAP_NORESERVE }, applies: always, run: (_g, beforeMmap) => ({ from: beforeMmap }) },
  {
    id: 'resv_fault',
    map: {},
    applies: always,
    run: (g) => {
      const from = counters();
      touch(g);
      return { from };
    },
  },
  ...afterZap,
  {
    id: 'resv_mremap_move',
    map: {},
    applies: always,
    // Faulted, then moved with MREMAP_FIXED into a huge-page-aligned hole.
    run: (g, _b, align) => {
      const from = touch(g);
      const dest = alignedHole(g.len, align);
      const r = mm.mremap(g.addr, g.len, g.len, K.MREMAP_MAYMOVE | K.MREMAP_FIXED, dest);
      if (r.errno !== undefined) {
        mm.munmap(dest, g.len);
        return { from, r };
      }
      g.addr = r.addr;
      return { from, r: { ret: 0 } };
    },
  },
  {
    id: 'resv_fork',
    map: {},
    applies: always,
    // A private mapping's child copies every page it writes: twice the range from the pool, or
    // the child meets SIGBUS because the pool is small, not because of the kernel (a 1 GiB pool
    // of 2 pages holds only the parent's).
    lengthsNeeded: (mt) => (mt.shared ? 1 : 2),
    // Faulted in the parent; a forked child writes the whole range and holds it while the
    // counters are read. A private mapping's COW takes pages the parent's reservation does
    // not cover; the child gets SIGBUS when the pool cannot give them.
    run: (g) => {
      const from = touch(g);
      const child = mm.forkFill(g.addr, g.len, SEED ^ 0xff);
      if (child.errno !== undefined) return { from, r: child };
      const held = counters();
      mm.reap(child.pid, child.hold);
      return { from, to: held, r: { ret: 0 }, child: child.ok ? 'ok' : (child.signal ?? 'fault') };
    },
  },
  {
    id: 'resv_munmap',
    map: {},
    applies: always,
    // Touch, then unmap with the file still open: from before the mmap to after the munmap.
    run: (g, beforeMmap) => {
      touch(g);
      mm.munmap(g.addr, g.len);
      g.len = 0; // unmapped: teardown must not unmap that range again
      return { from: beforeMmap };
    },
  },
];

const signed = (n: number) => (n >= 0 ? `+${n}` : `${n}`);

function observe(step: ResvStep, mt: MemType, env: GuestEnv, len: number): Observation {
  const beforeMmap = counters();
  const align = mt.hugePage(env);
  return withRegion(
    mt,
    env,
    len,
    step.map,
    (region) => {
      const s = step.run(region, beforeMmap, align);
      const backing = delta(s.from, s.to ?? counters(), 0); // hugetlb: its pool is its memory
      return record(step.id, '', mt, len, s.r ?? { ret: 0 }, { backing, ...(s.child ? { child: s.child } : {}) });
    },
    (o) => [o.errno, o.child && `child ${o.child}`, `rsvd${signed(o.backing!.hugeRsvd)} free${signed(o.backing!.hugeFree)}`].filter(Boolean).join(' '),
  );
}

export function resvCases(env: GuestEnv): Case[] {
  return product(
    env,
    RESV_STEPS,
    PLAIN,
    (step, mt) => mt.hugetlb && step.applies(mt),
    (step, _v, mt, len) => observe(step, mt, env, len),
  );
}
