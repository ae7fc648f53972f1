// The mremap family (seed 003): shrink, grow in place, grow with MREMAP_MAYMOVE, move with
// MREMAP_FIXED and MREMAP_DONTUNMAP, on every memory type. The mapping is filled first;
// afterwards we read what it keeps, what a grown tail holds, and what the range it left
// behind reads as.
import type { Case } from '../guest/harness.js';
import { contentWord, label, pmdWord } from '../guest/label.js';
import { K, type Mapped, mm } from '../guest/native.js';
import { pmdMappedKb } from '../guest/proc.js';
import type { Observation } from '../guest/protocol.js';
import { alignedHole, FILE_SEED, type GuestEnv, type MemType, type Region, withFileData } from './memtypes.js';
import { PLAIN, pmdBeforeOp, product, record, withFilledRegion } from './observe.js';

const SEED = 0x3c;
// include/uapi/asm-generic/mman-common.h (since 4.17): map there or fail with EEXIST, never replace.
export const MAP_FIXED_NOREPLACE = 0x100000;

/** What an op did: the call's result, the new extent, and the range it left (if any). */
interface Moved {
  r: Mapped;
  oldLen: number; // the mapping's length when mremap was called
  newLen: number;
  left: { addr: bigint; len: number } | null; // the old range, when the mapping may have left it
}

export interface MremapOp {
  id: string;
  lengthsNeeded?: (mt: MemType) => number; // the file's own data: see withFileData
  /** An op that lets the kernel pick the new address calls `placing(newLen)` right before its mremap. */
  run(region: Region, align: number, placing: (newLen: number) => void): Moved;
}

const ANON = K.MAP_PRIVATE | K.MAP_ANONYMOUS;
const PMD = 2n << 20n;

/** Make the kernel's next placement of `len` anonymous bytes (no hint) 2 MiB-unaligned unless the
 * kernel aligns it itself. A THP type asks whether PMDs survive a kernel-placed move, and that
 * turns on the new address: from v6.7 (efa7df3e3bb5 "mm: align larger anonymous mappings on THP
 * boundaries") __get_unmapped_area() aligns anonymous lengths that are PMD multiples; before, the
 * top-down allocator takes the top of the highest gap that fits, wherever earlier cases left it.
 * So each probe of that choice that lands aligned is pinned by a 4 KiB filler at its top: a kernel
 * that does not align then places below it, unaligned, and one that aligns keeps aligning. The
 * fillers are returned, for unmapping after the move. */
export function unalignPlacement(len: number, tries = 8): bigint[] {
  const fillers: bigint[] = [];
  for (let i = 0; i < tries; i++) {
    const p = mm.mmap(0, len, K.PROT_NONE, ANON, -1, 0);
    if (p.errno !== undefined) break;
    mm.munmap(p.addr, len);
    if (p.addr % PMD !== 0n) break;
    const top = p.addr + BigInt(len) - 4096n;
    const f = mm.mmap(top, 4096, K.PROT_NONE, ANON | MAP_FIXED_NOREPLACE, -1, 0);
    if (f.errno !== undefined) break;
    fillers.push(f.addr);
  }
  return fillers;
}

/** Make the region's second half a VMA of its own (read-only), so a range over the whole region
 * spans two VMAs. For hugetlb the half is one huge page: the split is aligned. */
function splitInTwo(g: Region): void {
  const m = mm.mprotect(g.addr + BigInt(g.len / 2), g.len / 2, K.PROT_READ);
  if (m.errno !== undefined) throw new Error(`mprotect of the second half: ${m.errno}`);
}

export const MREMAP_OPS: MremapOp[] = [
  {
    id: 'mremap_shrink',
    lengthsNeeded: withFileData,
    run: (g) => ({
      r: mm.mremap(g.addr, g.len, g.len / 2, 0, 0),
      oldLen: g.len,
      newLen: g.len / 2,
      left: { addr: g.addr + BigInt(g.len / 2), len: g.len / 2 },
    }),
  },
  {
    id: 'mremap_grow',
    lengthsNeeded: withFileData,
    // Unmap the second half, then grow back into the hole it left, in place.
    run: (g) => {
      mm.munmap(g.addr + BigInt(g.len / 2), g.len / 2);
      g.len /= 2;
      return { r: mm.mremap(g.addr, g.len, g.len * 2, 0, 0), oldLen: g.len, newLen: g.len * 2, left: null };
    },
  },
  {
    id: 'mremap_grow_maymove',
    lengthsNeeded: withFileData,
    // Twice the size, with the page after the mapping taken so it cannot grow in place: the
    // move is then deterministic. For a file or shmem object the new half lies beyond its end.
    run: (g, _align, placing) => {
      const end = g.addr + BigInt(g.len);
      const block = mm.mmap(end, 4096, K.PROT_NONE, K.MAP_PRIVATE | K.MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      placing(g.len * 2);
      const r = mm.mremap(g.addr, g.len, g.len * 2, K.MREMAP_MAYMOVE, 0);
      if (block.addr === end) mm.munmap(end, 4096); // ours; EEXIST means something else holds it
      return { r, oldLen: g.len, newLen: g.len * 2, left: { addr: g.addr, len: g.len } };
    },
  },
  {
    id: 'mremap_fixed',
    lengthsNeeded: withFileData,
    run: (g, align) => {
      const dest = alignedHole(g.len, align);
      const r = mm.mremap(g.addr, g.len, g.len, K.MREMAP_MAYMOVE | K.MREMAP_FIXED, dest);
      if (r.errno !== undefined) mm.munmap(dest, g.len);
      return { r, oldLen: g.len, newLen: g.len, left: { addr: g.addr, len: g.len } };
    },
  },
  {
    // A pure move (same length, MREMAP_FIXED) of a range that spans two VMAs.
    id: 'mremap_span_fixed',
    lengthsNeeded: withFileData,
    run: (g, align) => {
      splitInTwo(g);
      const dest = alignedHole(g.len, align);
      const r = mm.mremap(g.addr, g.len, g.len, K.MREMAP_MAYMOVE | K.MREMAP_FIXED, dest);
      if (r.errno !== undefined) mm.munmap(dest, g.len);
      return { r, oldLen: g.len, newLen: g.len, left: { addr: g.addr, len: g.len } };
    },
  },
  {
    // Growing a range that spans two VMAs.
    id: 'mremap_span_grow',
    lengthsNeeded: withFileData,
    run: (g) => {
      splitInTwo(g);
      return { r: mm.mremap(g.addr, g.len, g.len * 2, K.MREMAP_MAYMOVE, 0), oldLen: g.len, newLen: g.len * 2, left: { addr: g.addr, len: g.len } };
    },
  },
  {
    id: 'mremap_dontunmap',
    lengthsNeeded: withFileData,
    run: (g, _align, placing) => {
      placing(g.len);
      return {
        r: mm.mremap(g.addr, g.len, g.len, K.MREMAP_MAYMOVE | K.MREMAP_DONTUNMAP, 0),
        oldLen: g.len,
        newLen: g.len,
        left: { addr: g.addr, len: g.len },
      };
    },
  },
];

function observe(op: MremapOp, mt: MemType, env: GuestEnv, len: number): Observation {
  const align = Math.max(mt.hugePage(env), 2 << 20);
  let keptLen = len; // what of the data the mapping still holds after the op, at its new place
  return withFilledRegion(
    mt,
    env,
    len,
    SEED,
    (region) => {
      const oldAddr = region.addr;
      // A THP type asks whether PMDs still map the data where it ended up (moved, shrunk, grown).
      const thp = mt.backing === 'anon-thp';
      const pmdBefore = pmdBeforeOp(mt, region.addr, len);
      const fillers: bigint[] = [];
      const { r, oldLen, newLen, left } = op.run(region, align, (n) => {
        if (thp) fillers.push(...unalignPlacement(n));
      });
      for (const f of fillers) mm.munmap(f, 4096);
      if (r.errno === undefined) keptLen = Math.min(oldLen, newLen);
      const pmdAfter = thp ? pmdMappedKb(r.addr ?? oldAddr, keptLen) : null;
      let content = null;
      let tail: string | null = null;
      let old: string | null = null;
      if (r.errno === undefined) {
        region.addr = r.addr;
        region.len = newLen;
        const kept = Math.min(oldLen, newLen);
        content = mm.scan(r.addr, kept, SEED, 0, FILE_SEED);
        if (newLen > oldLen) tail = contentWord(mm.scan(r.addr + BigInt(oldLen), newLen - oldLen, SEED, oldLen, FILE_SEED));
        const leftBehind = left && (r.addr !== oldAddr || newLen < oldLen) ? left : null;
        if (leftBehind) {
          // Compared with the pattern of its original offsets, so data that stayed reads as kept.
          old = contentWord(mm.scan(leftBehind.addr, leftBehind.len, SEED, Number(leftBehind.addr - oldAddr), FILE_SEED));
          if (op.id === 'mremap_dontunmap') mm.munmap(leftBehind.addr, leftBehind.len); // it stays mapped: ours to unmap
        }
      }
      return record(op.id, '', mt, len, r, {
        presentAfter: r.errno === undefined ? mm.pagemap(r.addr, Math.min(oldLen, newLen)).present : null,
        content,
        moved: r.errno === undefined ? r.addr !== oldAddr : null,
        tail,
        old,
        ...(thp ? { pmdBefore, pmdAfter } : {}),
      });
    },
    (o) => {
      const pmd = pmdWord(o, keptLen, false, o.content !== null && contentWord(o.content) === 'kept');
      return label({ ...o, thp: pmd });
    },
  );
}

export function mremapCases(env: GuestEnv): Case[] {
  return product(
    env,
    MREMAP_OPS,
    PLAIN,
    () => true,
    (op, _v, mt, len) => observe(op, mt, env, len),
  );
}
