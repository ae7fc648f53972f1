// The zap family: operations that discard a range's contents, each over the whole range
// and over its middle half (for hugetlb: a start and end that are not huge-page aligned).
// Each case fills the region with a pattern, applies the operation to the target range
// and records what the kernel did there and around it.
import type { Case } from '../guest/harness.js';
import { Disturbed, SkipCase } from '../guest/harness.js';
import { contentWord, label, minusContent, pagedWord, pmdWord, releasedBytes } from '../guest/label.js';
import { K, mm, type Sys } from '../guest/native.js';
import { counters, delta, pmdMappedKb } from '../guest/proc.js';
import type { Observation } from '../guest/protocol.js';
import { FILE_SEED, type GuestEnv, type MemType, type Region, withFileData } from './memtypes.js';
import { pmdBeforeOp, product, record, type Variant, withFilledRegion } from './observe.js';

export interface Target {
  addr: bigint;
  offset: number; // from the region start
  len: number;
}

export interface ZapOp {
  id: string;
  lengthsNeeded?: (mt: MemType) => number; // the file's own data: see withFileData
  pmds?: boolean; // asks about PMDs on every type: its region spans two (PMD_PAIR)
  applies(mt: MemType): boolean;
  /** Why the guest cannot ask this operation's question (a SKIP), or null. */
  needs?(env: GuestEnv): string | null;
  /** The case records paging: swapped units after the operation, and the guest's swap. */
  pages?: boolean;
  apply(r: Region, t: Target): Sys;
}

const advice = (id: string, name: string): ZapOp => ({
  id,
  lengthsNeeded: withFileData,
  applies: () => true,
  apply: (_r, t) => mm.madvise(t.addr, t.len, K[name]),
});

export const ZAP_OPS: ZapOp[] = [
  advice('madv_dontneed', 'MADV_DONTNEED'),
  advice('madv_dontneed_locked', 'MADV_DONTNEED_LOCKED'),
  advice('madv_free', 'MADV_FREE'),
  advice('madv_remove', 'MADV_REMOVE'),
  {
    id: 'punch_hole',
    lengthsNeeded: withFileData,
    applies: (mt) => mt.file, // through the backing fd
    apply: (r, t) => mm.fallocate(r.fd, K.FALLOC_FL_PUNCH_HOLE | K.FALLOC_FL_KEEP_SIZE, t.offset, t.len),
  },
  {
    // The same hole asked for without KEEP_SIZE, as a caller might who wants the file to shrink.
    id: 'punch_hole_nokeep',
    lengthsNeeded: withFileData,
    applies: (mt) => mt.file,
    apply: (r, t) => mm.fallocate(r.fd, K.FALLOC_FL_PUNCH_HOLE, t.offset, t.len),
  },
];

export interface RangeVariant extends Variant {
  target(len: number): { offset: number; len: number };
  /** Done to the filled region before the operation; an errno it returns is the cell's, and the
   * operation is not tried. */
  prepare?(r: Region): Sys | undefined;
  /** Checked right after the operation: throws Disturbed when the range is not as prepare left it. */
  settled?(r: Region): void;
  /** What of the region is still mapped after prepare (default: all of it). */
  mapped?(len: number): { offset: number; len: number };
  /** The label names what the mapped part holds even when the call failed. */
  contentAfterError?: boolean;
  /** A second, private mapping of the same file gets copies of its own first: the cell says what
   * it reads after the operation through the region. */
  alias?: boolean;
}

export const RANGES: RangeVariant[] = [
  { id: '', target: (len) => ({ offset: 0, len }) },
  { id: 'mid', target: (len) => ({ offset: len / 4, len: len / 2 }) },
];

/** The whole range, mlocked first: where MADV_DONTNEED and MADV_DONTNEED_LOCKED part ways. */
export const LOCKED: RangeVariant = {
  id: 'locked',
  target: (len) => ({ offset: 0, len }),
  prepare: (r) => {
    const m = mm.mlock(r.addr, r.len);
    if (m.errno !== undefined) throw new Error(`mlock: ${m.errno}`);
    return undefined;
  },
};

/** The whole range with its first half unmapped: madvise(2) returns ENOMEM for a range with
 * unmapped addresses, and the label says whether the advice still reached the mapped half. */
export const HOLE: RangeVariant = {
  id: 'hole',
  target: (len) => ({ offset: 0, len }),
  prepare: (r) => {
    const m = r.unmapHead(r.len / 2);
    if (m.errno !== undefined) throw new Error(`munmap of the hole: ${m.errno}`);
    return undefined;
  },
  // Node's other threads (a JIT compile, the GC) may mmap into the hole before the operation;
  // the call then acts on their memory and returns no ENOMEM. That run says nothing of the kernel.
  settled: (r) => {
    if (mm.mincore(r.addr, r.len / 2).errno !== 'ENOMEM') throw new Disturbed('another thread mapped memory into the unmapped half');
  },
  mapped: (len) => ({ offset: len / 2, len: len / 2 }),
  contentAfterError: true,
};

/** hugetlb: a huge-page-aligned start and an end in the middle of the second huge page
 * (one and a half pages): where the kernel rounds the end, down or up, decides that page. */
export const HEAD: RangeVariant = { id: 'head', target: (len) => ({ offset: 0, len: (len / 4) * 3 }) };

/** The whole range after mprotect(PROT_READ): a read-only shared mapping of a file opened O_RDWR. */
export const READ_ONLY: RangeVariant = {
  id: 'ro',
  target: (len) => ({ offset: 0, len }),
  prepare: (r) => {
    const m = mm.mprotect(r.addr, r.len, K.PROT_READ);
    if (m.errno !== undefined) throw new Error(`mprotect: ${m.errno}`);
    return undefined;
  },
};

/** The memfd write-sealed after the fill (memfd types): F_SEAL_WRITE, refused with EBUSY while a
 * writable shared mapping exists, and F_SEAL_FUTURE_WRITE, which mappings made before it keep. */
const sealedWith = (id: string, seal: string): RangeVariant => ({ id, target: (len) => ({ offset: 0, len }), prepare: (r) => mm.addSeals(r.fd, K[seal]) });
export const SEALED = [sealedWith('seal_write', 'F_SEAL_WRITE'), sealedWith('seal_future_write', 'F_SEAL_FUTURE_WRITE')];
const isMemfd = (mt: MemType) => mt.backing.startsWith('memfd');

/** A shared file mapping with a private one of the same file beside it (see RangeVariant.alias). */
export const ALIAS: RangeVariant = { id: 'alias', target: (len) => ({ offset: 0, len }), alias: true, lengthsNeeded: () => 2 };
const ALIAS_SEED = 0x2e;

/** Map the region's file again, privately, and write a pattern of its own there: private copies. */
function privateAlias(r: Region): bigint {
  const m = mm.mmap(0, r.len, K.PROT_READ | K.PROT_WRITE, K.MAP_PRIVATE, r.fd, 0);
  if (m.errno !== undefined) throw new Error(`mmap the private alias: ${m.errno}`);
  const filled = mm.fill(m.addr, r.len, ALIAS_SEED);
  if (!filled.ok) throw new Error(`filling the private alias faulted: ${filled.signal} at ${filled.offset}`);
  return m.addr;
}

/** Punch hole works on the file, not on a mapping: a hole in the mapping does not concern it. */
export const isMadvise = (op: ZapOp) => op.id.startsWith('madv_');

const SEED = 0x5a;

/** Whether a case asks what PMDs map: a THP type, or an operation about PMDs (MADV_COLLAPSE) on any type. */
const asksThp = (op: ZapOp, mt: MemType) => mt.backing === 'anon-thp' || !!op.pmds;

/** Fill, apply, read back: shared by every family whose operation discards or protects data.
 * THP cases also record how much of the region PMDs map before and after the operation; a THP
 * type whose region got no THP from the fill is a SKIP (the question cannot be asked). */
export function observeZap(op: ZapOp, range: RangeVariant, mt: MemType, env: GuestEnv, len: number): Observation {
  const { offset, len: tlen } = range.target(len);
  const view = range.mapped?.(len) ?? { offset: 0, len };
  const missing = op.needs?.(env);
  if (missing) throw new SkipCase(missing);
  return withFilledRegion(
    mt,
    env,
    len,
    SEED,
    (region) => {
      const target: Target = { addr: region.addr + BigInt(offset), offset, len: tlen };
      const refused = range.prepare?.(region);
      const alias = range.alias ? privateAlias(region) : null;
      try {
        const thp = asksThp(op, mt);
        const pmdBefore = pmdBeforeOp(mt, region.addr, len, view.len, thp);
        const before = counters(region.fd);
        const mapBefore = mm.pagemap(target.addr, tlen);
        const r = refused?.errno !== undefined ? refused : op.apply(region, target);
        range.settled?.(region);
        const pmdAfter = thp ? pmdMappedKb(region.addr, len) : null;
        const after = counters(region.fd);
        const mapAfter = mm.pagemap(target.addr, tlen);
        const whole = mm.scan(region.addr + BigInt(view.offset), view.len, SEED, view.offset, FILE_SEED);
        // A target that covers all that is mapped has the mapped part's content, holes aside.
        const covers = offset <= view.offset && offset + tlen >= view.offset + view.len;
        const content = covers ? whole : mm.scan(target.addr, tlen, SEED, offset, FILE_SEED);
        const acted = Math.min(offset + tlen, view.offset + view.len) - Math.max(offset, view.offset);
        const backing = delta(before, after, mapAfter.anon - mapBefore.anon);
        return record(op.id, range.id, mt, tlen, r, {
          offset,
          presentBefore: mapBefore.present,
          presentAfter: mapAfter.present,
          content,
          outside: content === whole ? null : contentWord(minusContent(whole, content)),
          backing,
          freed: releasedBytes(backing, mt.hugePage(env)) >= acted / 2,
          ...(thp ? { pmdBefore, pmdAfter } : {}),
          ...(alias ? { alias: contentWord(mm.scan(alias, len, ALIAS_SEED, 0, FILE_SEED)) } : {}),
          ...(op.pages ? { swappedAfter: mapAfter.swapped, swap: env.swap } : {}),
        });
      } finally {
        if (alias) mm.munmap(alias, len);
      }
    },
    (o) =>
      label({
        ...o,
        contentAfterError: range.contentAfterError,
        paged:
          o.swappedAfter === undefined || o.swappedAfter === null ? null : pagedWord(o.presentBefore ?? 0, o.presentAfter ?? 0, o.swappedAfter, tlen / 4096),
        thp: pmdWord(o, view.len, tlen < view.len, o.content !== null && contentWord(o.content) === 'kept'),
      }),
  );
}

function variantApplies(v: RangeVariant, op: ZapOp, mt: MemType): boolean {
  if (v === HOLE) return isMadvise(op);
  if (v === HEAD) return mt.hugetlb;
  if (v === READ_ONLY) return op.id === 'madv_remove' && mt.shared;
  if (v === ALIAS) return mt.file && mt.shared;
  if (SEALED.includes(v)) return isMemfd(mt) && ['madv_remove', 'punch_hole'].includes(op.id);
  return true;
}

export function zapCases(env: GuestEnv): Case[] {
  return product(
    env,
    ZAP_OPS,
    [...RANGES, LOCKED, HOLE, HEAD, READ_ONLY, ...SEALED, ALIAS],
    (op, mt, v) => op.applies(mt) && variantApplies(v, op, mt),
    (op, range, mt, len) => observeZap(op, range, mt, env, len),
  );
}
