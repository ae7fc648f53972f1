// The populate family (seed 004): MAP_POPULATE, MADV_POPULATE_READ/WRITE and MADV_WILLNEED
// on a fresh mapping, and the same advice on a PROT_NONE mapping. Records whether the page
// tables were populated (pagemap), whether backing memory was allocated, and whether a
// private mapping got private copies (its COW broken).
import type { Case } from '../guest/harness.js';
import { allocatedBytes, label, presenceWord } from '../guest/label.js';
import { K, mm, type Sys } from '../guest/native.js';
import { counters, delta } from '../guest/proc.js';
import type { Observation } from '../guest/schema.js';
import type { GuestEnv, MapOptions, MemType, Region } from './memtypes.js';
import { product, record, withRegion, type Variant } from './observe.js';

export interface PopulateOp {
  id: string;
  map: MapOptions; // how the mapping is made
  apply(r: Region): Sys; // after mmap; map_populate does its work in mmap itself
}

const advise = (name: string) => (r: Region) => mm.madvise(r.addr, r.len, K[name]);
const nothing = (): Sys => ({ ret: 0 });

export const POPULATE_OPS: PopulateOp[] = [
  { id: 'map_populate', map: { flags: K.MAP_POPULATE }, apply: nothing },
  { id: 'madv_populate_read', map: {}, apply: advise('MADV_POPULATE_READ') },
  { id: 'madv_populate_write', map: {}, apply: advise('MADV_POPULATE_WRITE') },
  { id: 'madv_willneed', map: {}, apply: advise('MADV_WILLNEED') },
];

interface MapVariant extends Variant {
  map: MapOptions | null; // null: the op's own mapping
}

/** The populate advice also on a PROT_NONE mapping: populate must fail rather than fault. */
const VARIANTS: MapVariant[] = [
  { id: '', map: null },
  { id: 'prot_none', map: { prot: K.PROT_NONE } },
];

// Counters are taken before the mmap: a plain mmap allocates nothing they count (a hugetlb
// reservation moves Rsvd, not Free), and MAP_POPULATE does its work inside the mmap.
function observe(op: PopulateOp, variant: string, how: MapOptions, mt: MemType, env: GuestEnv, len: number): Observation {
  const before = counters();
  return withRegion(mt, env, len, how, (region) => {
    const presentBefore = mm.pagemap(region.addr, len).present;
    const r = op.apply(region);
    const backing = delta(before, counters());
    return record(op.id, variant, mt, len, r, {
      presentBefore,
      presentAfter: mm.pagemap(region.addr, len).present,
      backing,
      allocated: allocatedBytes(backing, env.hugePage) >= len / 2,
      cow: mt.shared || mt.hugetlb ? null : backing.rssAnonKb * 1024 >= len / 2,
    });
  }, (o) => label({ ...o, presence: presenceWord(o.presentAfter ?? 0, len / 4096) }));
}

export function populateCases(env: GuestEnv): Case[] {
  return product(
    env,
    POPULATE_OPS,
    VARIANTS,
    (op, _mt, v) => v.map === null || op.id.startsWith('madv_populate'),
    (op, v, mt, len) => observe(op, v.id, v.map ?? op.map, mt, env, len),
  );
}
