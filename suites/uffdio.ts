// The uffd family's second table: what the resolving ioctls do when a case calls them itself
// (UFFDIO_COPY onto a present page, UFFDIO_ZEROPAGE, UFFDIO_MOVE, write protection), what a
// registered range's owner sees of MREMAP_DONTUNMAP, and at which granularity a huge page answers:
// the address a fault reports, a PAGE_SIZE COPY or CONTINUE inside a huge page, and seed 000's
// post-copy recipe (madvise value 26, MADV_SPLIT in the HugeTLB HGM series, then a PAGE_SIZE
// UFFDIO_CONTINUE). Mainline refuses the last ones; a kernel carrying HGM would flip them.
import type { Case } from '../guest/harness.js';
import { contentWord } from '../guest/label.js';
import { K, mm, type Sys } from '../guest/native.js';
import { pmdMappedKb } from '../guest/proc.js';
import type { Observation } from '../guest/protocol.js';
import { alignedHole, FILE_SEED, type GuestEnv, type MemType, type Region, withFileData } from './memtypes.js';
import { PLAIN, pmdBeforeOp, product, type Recorded, record, withFilledRegion, withRegion } from './observe.js';
import { EVENT_FEATURES, eventWord, factsOf, faultWord, type Mode, offered, registered, registrable, SEED, withPmd } from './uffd.js';

const PAGE = 4096;
const ANON = K.MAP_PRIVATE | K.MAP_ANONYMOUS;
const RW = K.PROT_READ | K.PROT_WRITE;
/** madvise value 26: MADV_SPLIT in the HugeTLB high-granularity mapping series (seed 000). */
const MADV_SPLIT = 26;

/** What a case body knows: the region, the registered userfaultfd, the type's page size. */
interface Ctx {
  mt: MemType;
  region: Region;
  fd: number;
  huge: number; // the type's huge page size, 0 for base pages
  granule: number; // what a fault is resolved by: the huge page, or 4 KiB
  later: (() => void)[]; // to do once the userfaultfd is closed
}

interface IoOp {
  id: string;
  mode: Mode;
  filled: boolean; // the region holds data first (else it is empty)
  features?: string[]; // UFFDIO_API features the case asks for besides registration's
  applies(mt: MemType): boolean;
  needs?: (mt: MemType) => number; // lengths of memory beyond the mapping's (see product)
  body(c: Ctx, facts: (r: Sys, f?: Partial<Recorded>) => Recorded): Recorded;
  label(o: Recorded, c: { len: number; huge: number }): string;
}

/** A scratch anonymous mapping of `len` bytes holding the pattern of SEED from offset 0, for a
 * COPY or MOVE to take from; unmapped by `done`. */
function source(len: number): { addr: bigint; done(): void } {
  const addr = alignedHole(len, 2 << 20);
  const m = mm.mmap(addr, len, RW, ANON | K.MAP_FIXED, -1, 0);
  if (m.errno !== undefined) throw new Error(`mmap of the source: ${m.errno}`);
  const filled = mm.fill(addr, len, SEED);
  if (!filled.ok) throw new Error(`fill of the source faulted: ${filled.signal}`);
  return { addr, done: () => mm.munmap(addr, len) };
}

/** The content word of [off, off+len) of the region, against the pattern it was filled with. */
const contentAt = (r: Region, off: number, len: number) => contentWord(mm.scan(r.addr + BigInt(off), len, SEED, off, FILE_SEED));

/** How the first fault's reported address relates to the byte touched at `at`: exact, rounded to
 * 4 KiB (`page`), rounded to the huge page (`huge`), or the offset itself. */
export function addrWord(reported: number | undefined, at: number, huge: number): string {
  if (reported === undefined) return 'none';
  if (reported === at) return 'exact';
  if (reported === at - (at % PAGE)) return 'page';
  if (huge && reported === at - (at % huge)) return 'huge';
  return `0x${reported.toString(16)}`;
}

/** An anon-thp region asks about the THPs a fill made: a case on an empty region (or, for
 * DONTUNMAP, one whose new place the kernel picks: mremap_dontunmap.anon-thp-private asks that)
 * leaves it to the anon type. */
const emptyApplies = (mode: Mode, mt: MemType) => registrable(mode, mt) && mt.backing !== 'anon-thp';

const errnoOr = (o: Recorded, ok: () => string) => o.errno ?? ok();
// Inside the first huge page (a base-page region's first half), off every boundary.
const TOUCHED = (huge: number, len: number) => (huge || len / 2) / 2 + 0x1234;

/** A fault's address: one byte read inside the first huge page of an empty registered region. */
const faultAddr = (id: string, features: string[]): IoOp => ({
  id,
  mode: 'missing',
  filled: false,
  features,
  applies: (mt) => emptyApplies('missing', mt),
  body: (c, facts) => {
    const missing = features.find((f) => !offered(f));
    if (missing) return facts({ ret: 0 }, { missingFeature: missing });
    const at = TOUCHED(c.huge, c.region.len);
    const p = mm.uffdPoke(c.fd, c.region.addr, c.region.len, at, c.granule, SEED);
    if ('errno' in p && !('missing' in p)) throw new Error(`poke: ${p.errno}`);
    return facts({ ret: 0 }, { offset: at, uffd: factsOf(p as Exclude<typeof p, { errno: string }>, c.region.addr) });
  },
  label: (o, c) =>
    o.missingFeature ? 'absent' : errnoOr(o, () => `ok ${o.uffd ? faultWord(o.uffd) : 'none'} addr:${addrWord(o.uffd?.faultOffset, o.offset ?? 0, c.huge)}`),
});

export const IO_OPS: IoOp[] = [
  faultAddr('uffd_fault_addr', []),
  faultAddr('uffd_fault_addr_exact', ['exact_address']),
  {
    // UFFDIO_COPY of one 4 KiB page at 4 KiB into an empty registered region.
    id: 'uffd_copy_4k',
    mode: 'missing',
    filled: false,
    applies: (mt) => emptyApplies('missing', mt),
    body: (c, facts) => {
      // Two units of the pattern, the second one's being what offset 4096 holds.
      const src = source(2 * PAGE);
      try {
        const r = mm.uffdCall(c.fd, K.UFFD_CALL_COPY, c.region.addr + BigInt(PAGE), src.addr + BigInt(PAGE), PAGE, 0);
        return facts(r, { offset: PAGE, ...(r.errno === undefined ? { content: mm.scan(c.region.addr + BigInt(PAGE), PAGE, SEED, PAGE, FILE_SEED) } : {}) });
      } finally {
        src.done();
      }
    },
    label: (o) => errnoOr(o, () => `ok ${o.content ? contentWord(o.content) : ''}`.trim()),
  },
  {
    // Data in the page cache, no PTE (MADV_DONTNEED), then UFFDIO_CONTINUE of 4 KiB at 4 KiB.
    id: 'uffd_continue_4k',
    mode: 'minor',
    filled: true,
    applies: (mt) => registrable('minor', mt),
    body: (c, facts) => {
      const z = mm.madvise(c.region.addr, c.region.len, K.MADV_DONTNEED);
      if (z.errno !== undefined) throw new Error(`MADV_DONTNEED: ${z.errno}`);
      const r = mm.uffdCall(c.fd, K.UFFD_CALL_CONTINUE, c.region.addr + BigInt(PAGE), 0, PAGE, 0);
      return facts(r, { offset: PAGE, ...(r.errno === undefined ? { content: mm.scan(c.region.addr + BigInt(PAGE), PAGE, SEED, PAGE, FILE_SEED) } : {}) });
    },
    label: (o) => errnoOr(o, () => `ok ${o.content ? contentWord(o.content) : ''}`.trim()),
  },
  {
    // Seed 000's recipe: MADV_SPLIT (26) over the first huge page, then a 4 KiB UFFDIO_CONTINUE.
    id: 'uffd_split_continue',
    mode: 'minor',
    filled: true,
    applies: (mt) => mt.hugetlb && mt.shared,
    body: (c, facts) => {
      const z = mm.madvise(c.region.addr, c.region.len, K.MADV_DONTNEED);
      if (z.errno !== undefined) throw new Error(`MADV_DONTNEED: ${z.errno}`);
      const split = mm.madvise(c.region.addr, c.huge, MADV_SPLIT);
      const r = mm.uffdCall(c.fd, K.UFFD_CALL_CONTINUE, c.region.addr + BigInt(PAGE), 0, PAGE, 0);
      return facts(split, { offset: 0, continueErrno: r.errno ?? null });
    },
    label: (o) => `${o.errno ?? 'ok'} continue:${o.continueErrno ?? 'ok'}`,
  },
  {
    // UFFDIO_COPY of the first page (the type's granule) over the present data.
    id: 'uffd_copy_present',
    mode: 'missing',
    filled: true,
    applies: (mt) => registrable('missing', mt),
    body: (c, facts) => {
      const src = source(c.granule);
      try {
        const r = mm.uffdCall(c.fd, K.UFFD_CALL_COPY, c.region.addr, src.addr, c.granule, 0);
        return facts(r, { content: mm.scan(c.region.addr, c.region.len, SEED, 0, FILE_SEED) });
      } finally {
        src.done();
      }
    },
    label: (o) => errnoOr(o, () => 'ok'),
  },
  {
    // UFFDIO_ZEROPAGE over the whole empty registered region.
    id: 'uffd_zeropage',
    mode: 'missing',
    filled: false,
    applies: (mt) => emptyApplies('missing', mt),
    body: (c, facts) => {
      const r = mm.uffdCall(c.fd, K.UFFD_CALL_ZEROPAGE, c.region.addr, 0, c.region.len, 0);
      return facts(r, r.errno === undefined ? { content: mm.scan(c.region.addr, c.region.len, SEED, 0, FILE_SEED) } : {});
    },
    label: (o) => errnoOr(o, () => `ok ${o.content ? contentWord(o.content) : ''}`.trim()),
  },
  {
    // UFFDIO_MOVE of a filled anonymous mapping's pages into the whole empty registered region.
    id: 'uffd_move',
    mode: 'missing',
    filled: false,
    features: ['move'],
    applies: (mt) => emptyApplies('missing', mt),
    body: (c, facts) => {
      const src = source(c.region.len);
      try {
        const r = mm.uffdCall(c.fd, K.UFFD_CALL_MOVE, c.region.addr, src.addr, c.region.len, 0);
        if (r.errno !== undefined) return facts(r);
        return facts(r, {
          content: mm.scan(c.region.addr, c.region.len, SEED, 0, FILE_SEED),
          old: contentWord(mm.scan(src.addr, c.region.len, SEED, 0, FILE_SEED)),
        });
      } finally {
        src.done();
      }
    },
    label: (o) => errnoOr(o, () => `ok ${o.content ? contentWord(o.content) : ''} old:${o.old}`),
  },
  {
    // Write-protect the filled region, then write every 4 KiB unit while the handler un-protects.
    id: 'uffd_wp',
    mode: 'wp',
    filled: true,
    applies: (mt) => registrable('wp', mt),
    body: (c, facts) => {
      const pmdBefore = pmdBeforeOp(c.mt, c.region.addr, c.region.len);
      const r = mm.uffdCall(c.fd, K.UFFD_CALL_WRITEPROTECT, c.region.addr, 0, c.region.len, 1);
      if (r.errno !== undefined) return facts(r);
      const t = mm.uffdTouch(c.fd, c.region.addr, c.region.len, c.granule, SEED, 0, FILE_SEED, 1);
      if ('errno' in t && !('missing' in t)) throw new Error(`touch: ${t.errno}`);
      const touched = t as Exclude<typeof t, { errno: string }>;
      // PMDs once the writes are done: the handler lifts protection 4 KiB at a time.
      const pmd = pmdBefore === null ? {} : { pmdBefore, pmdAfter: pmdMappedKb(c.region.addr, c.region.len) };
      return facts({ ret: 0 }, { content: mm.scan(c.region.addr, c.region.len, SEED, 0, FILE_SEED), uffd: factsOf(touched, c.region.addr), ...pmd });
    },
    label: (o, c) =>
      errnoOr(o, () => [`ok ${o.uffd ? faultWord(o.uffd) : 'none'}`, ...(o.content ? [contentWord(o.content)] : []), ...withPmd(o, c.len)].join(' ')),
  },
  {
    // MREMAP_DONTUNMAP of the filled registered range; then the old range is read, faults resolved.
    id: 'uffd_event_dontunmap',
    mode: 'missing',
    filled: true,
    // A private hugetlb range: the old range's refill takes new pages while the moved ones stay.
    needs: (mt) => (mt.hugetlb && !mt.shared ? 2 : 1),
    features: EVENT_FEATURES,
    applies: (mt) => emptyApplies('missing', mt),
    body: (c, facts) => {
      const h = mm.uffdStart(c.fd, c.region.addr, c.region.len, c.granule, SEED);
      if (h.errno !== undefined) throw new Error(`uffd handler: ${h.errno}`);
      let old = null;
      const m = mm.mremap(c.region.addr, c.region.len, c.region.len, K.MREMAP_MAYMOVE | K.MREMAP_DONTUNMAP, 0);
      if (m.errno === undefined) old = contentAt(c.region, 0, c.region.len);
      const uffd = factsOf(mm.uffdStop(h.handle), c.region.addr);
      // The moved range is ours to unmap once the userfaultfd is closed: before, its munmap would
      // send a UFFD_EVENT_UNMAP and wait for a reader.
      if (m.errno === undefined) c.later.push(() => mm.munmap(m.addr, c.region.len));
      return facts(m.errno !== undefined ? m : { ret: 0 }, { uffd, old });
    },
    label: (o) => {
      const words = [o.errno ?? 'ok', o.uffd ? eventWord(o.uffd) : 'none'];
      const faults = o.uffd ? faultWord(o.uffd) : 'none';
      if (faults !== 'none') words.push(faults);
      if (o.old) words.push(`old:${o.old}`);
      return words.join(' ');
    },
  },
];

function observe(op: IoOp, mt: MemType, env: GuestEnv, len: number): Observation {
  const huge = mt.hugePage(env);
  const around = op.filled
    ? withFilledRegion
    : (m: MemType, e: GuestEnv, l: number, _s: number, b: (r: Region) => Recorded, lab: (o: Recorded) => string) => withRegion(m, e, l, {}, b, lab);
  return around(
    mt,
    env,
    len,
    SEED,
    (region) => {
      const later: (() => void)[] = [];
      try {
        return registered(
          region,
          op.mode,
          op.features ?? [],
          (facts, r) => record(op.id, '', mt, len, r, facts),
          (fd) => op.body({ mt, region, fd, huge, granule: huge || PAGE, later }, (r, f = {}) => record(op.id, '', mt, len, r, f)),
        );
      } finally {
        for (const f of later) f();
      }
    },
    (o) => (o.registerErrno ? `register:${o.registerErrno}` : op.label(o, { len, huge })),
  );
}

export function uffdioCases(env: GuestEnv): Case[] {
  return product(
    env,
    IO_OPS.map((op) => ({ ...op, lengthsNeeded: op.needs ?? (op.filled ? withFileData : undefined) })),
    PLAIN,
    (op, mt) => op.applies(mt),
    (op, _v, mt, len) => observe(op, mt, env, len),
  );
}
