// The populate family (seed 004): MAP_POPULATE, MADV_POPULATE_READ/WRITE and MADV_WILLNEED
// on a fresh mapping, and the same advice on a PROT_NONE mapping. Records whether the page
// tables were populated (pagemap), whether backing memory was allocated, and whether a
// private mapping got private copies (its COW broken). On hugetlb, also a MAP_NORESERVE
// mapping two pages larger than what the pool can give: what each populate returns there,
// against what a plain touch of it does.
import { type Case, SkipCase } from '../guest/harness.js';
import { allocatedBytes, label, pmdWord, presenceWord } from '../guest/label.js';
import { K, mm, type Sys } from '../guest/native.js';
import { counters, delta, pmdMappedKb, vmstat } from '../guest/proc.js';
import type { Observation } from '../guest/protocol.js';
import { type GuestEnv, HUGE_1GB, type MapOptions, type MemType, type Region } from './memtypes.js';
import { product, record, type Variant, withRegion } from './observe.js';

export interface PopulateOp {
  id: string;
  map: MapOptions; // how the mapping is made
  apply(r: Region): Sys & { fault?: string }; // after mmap; map_populate does its work in mmap itself
}

const advise = (name: string) => (r: Region) => mm.madvise(r.addr, r.len, K[name]);
const nothing = (): Sys => ({ ret: 0 });

export const POPULATE_OPS: PopulateOp[] = [
  { id: 'map_populate', map: { flags: K.MAP_POPULATE }, apply: nothing },
  { id: 'madv_populate_read', map: {}, apply: advise('MADV_POPULATE_READ') },
  { id: 'madv_populate_write', map: {}, apply: advise('MADV_POPULATE_WRITE') },
  { id: 'madv_willneed', map: {}, apply: advise('MADV_WILLNEED') },
  {
    id: 'touch',
    map: {},
    apply: (r) => {
      const f = mm.fill(r.addr, r.len, 0x11);
      return f.ok ? { ret: 0 } : { ret: 0, fault: f.signal };
    },
  },
];

interface MapVariant extends Variant {
  map: MapOptions | null; // null: the op's own mapping
  applies(op: PopulateOp, mt: MemType): boolean;
  squeeze?(env: GuestEnv, mt: MemType): () => void; // shrink what the pool can give; returns the undo
  prepare?(r: Region): void; // done to the new mapping before the operation
}

const isPopulate = (op: PopulateOp) => op.id.startsWith('madv_populate');

const VARIANTS: MapVariant[] = [
  { id: '', map: null, applies: (op) => op.id !== 'touch' },
  // The populate advice on a PROT_NONE mapping: populate must fail rather than fault.
  { id: 'prot_none', map: { prot: K.PROT_NONE }, applies: isPopulate },
  // The same after mprotect(PROT_NONE) of a mapping made readable and writable.
  {
    id: 'mprotect_none',
    map: null,
    applies: isPopulate,
    prepare: (r) => {
      const m = mm.mprotect(r.addr, r.len, K.PROT_NONE);
      if (m.errno !== undefined) throw new Error(`mprotect: ${m.errno}`);
    },
  },
  // Each populate on a mapping that grants only the other access: x86 page tables cannot make
  // a page writable but not readable, yet the VMA of a PROT_WRITE mapping has no VM_READ.
  { id: 'prot_write', map: { prot: K.PROT_WRITE }, applies: isPopulate },
  { id: 'prot_read', map: { prot: K.PROT_READ }, applies: isPopulate },
  // Seed 004: on a MAP_NORESERVE hugetlb mapping the pool cannot back, populate should
  // report the failure where a touch gets SIGBUS. The pool is squeezed to 2 usable pages by
  // a reservation held elsewhere (reserved pages are not handed to a MAP_NORESERVE fault), and
  // the mapping is 4 pages: 2 that fit and 2 beyond. Faulting the whole pool instead costs
  // seconds per case under TCG.
  {
    id: 'noreserve_overcommit',
    map: { flags: K.MAP_NORESERVE },
    applies: (op, mt) => mt.hugetlb && op.id !== 'madv_willneed',
    length: (env, mt) => 2 * USABLE * mt.hugePage(env),
    squeeze: (env, mt) => reserveAllBut(USABLE, env, mt),
  },
];

const USABLE = 2;

/** Hold a reservation on all but `keep` free pages of the type's pool (an untouched private
 * MAP_HUGETLB mapping reserves at mmap); returns its release. */
function reserveAllBut(keep: number, env: GuestEnv, mt: MemType): () => void {
  const size = mt.hugePage(env);
  const hold = ((env.pools[size] ?? 0) - keep) * size;
  if (hold <= 0) return () => undefined;
  const sizeFlag = size === 1 << 30 ? HUGE_1GB : 0;
  const m = mm.mmap(0, hold, K.PROT_READ | K.PROT_WRITE, K.MAP_PRIVATE | K.MAP_ANONYMOUS | K.MAP_HUGETLB | sizeFlag, -1, 0);
  if (m.errno !== undefined) throw new Error(`reserving the pool: ${m.errno}`);
  return () => mm.munmap(m.addr, hold);
}

/** The variant's mapping options over the op's own (flags add up). */
function mapping(op: PopulateOp, v: MapVariant): MapOptions {
  if (!v.map) return op.map;
  return { prot: v.map.prot ?? op.map.prot, flags: (op.map.flags ?? 0) | (v.map.flags ?? 0) };
}

// Counters are taken before the mmap: a plain mmap allocates nothing they count (a hugetlb
// reservation moves Rsvd, not Free), and MAP_POPULATE does its work inside the mmap. The
// backing file is new and sparse, so its blocks start from 0 (fileKb of "no file").
function observe(op: PopulateOp, v: MapVariant, how: MapOptions, mt: MemType, env: GuestEnv, len: number): Observation {
  const release = v.squeeze?.(env, mt) ?? (() => undefined);
  try {
    return observeIn(op, v, how, mt, env, len);
  } finally {
    release();
  }
}

function observeIn(op: PopulateOp, v: MapVariant, how: MapOptions, mt: MemType, env: GuestEnv, len: number): Observation {
  const before = counters();
  return withRegion(
    mt,
    env,
    len,
    how,
    (region) => {
      v.prepare?.(region);
      const mapBefore = mm.pagemap(region.addr, len);
      const fallbacks = mt.backing === 'anon-thp' ? vmstat('thp_fault_fallback') : null;
      const r = op.apply(region);
      const after = counters(region.fd);
      const mapAfter = mm.pagemap(region.addr, len);
      // THP: whether the populate left PMDs mapping the range (a fresh mapping has none before).
      const pmdAfter = mt.backing === 'anon-thp' ? pmdMappedKb(region.addr, len) : null;
      // A fault that wanted a THP and found no free 2 MiB block fell back to 4 KiB pages: the
      // case then has no THP to observe (the guest's memory, not the call, decided).
      const fellBack = fallbacks === null ? 0 : (vmstat('thp_fault_fallback') ?? 0) - fallbacks;
      if (fellBack > 0 && (pmdAfter ?? 0) * 1024 < len)
        throw new SkipCase(`the kernel fell back to 4 KiB pages (thp_fault_fallback +${fellBack}): no THP to observe`);
      // The mapping is new: every anonymous page in it came with the mmap (MAP_POPULATE) or after.
      const backing = delta(before, after, mapAfter.anon);
      return record(op.id, v.id, mt, len, r, {
        presentBefore: mapBefore.present,
        presentAfter: mapAfter.present,
        backing,
        allocated: allocatedBytes(backing, mt.hugePage(env)) >= len / 2,
        cow: mt.shared || mt.hugetlb ? null : backing.anonKb * 1024 >= len / 2,
        ...(r.fault ? { fault: r.fault } : {}),
        ...(pmdAfter !== null ? { pmdBefore: 0, pmdAfter } : {}),
      });
    },
    (o) => label({ ...o, presence: presenceWord(o.presentAfter ?? 0, len / 4096), thp: pmdWord(o, len, false, false) }),
  );
}

export function populateCases(env: GuestEnv): Case[] {
  return product(
    env,
    POPULATE_OPS,
    VARIANTS,
    (op, mt, v) => v.applies(op, mt),
    (op, v, mt, len) => observe(op, v, mapping(op, v), mt, env, len),
  );
}
