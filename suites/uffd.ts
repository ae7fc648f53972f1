// The uffd family (seed 002, post-copy live migration): what userfaultfd offers, what each
// memory type lets it register, and seed 002's question as a table: after each zap operation on
// a registered, populated range, does the next touch raise a userfaultfd fault (missing, minor)
// or does the kernel fill the page itself? The touch reads every 4 KiB unit while a handler
// thread in the addon resolves each fault as post-copy does (UFFDIO_COPY of the original data,
// UFFDIO_CONTINUE of the page cache's page), so the content afterwards says whether any data was
// lost: `kept` after a resolved fault, `zeroed` or `file` where the kernel filled the page.
import { closeSync } from 'node:fs';
import type { Case } from '../guest/harness.js';
import { contentWord, label, pmdWord, releasedBytes } from '../guest/label.js';
import { K, mm, type Sys, type UffdCounts } from '../guest/native.js';
import { counters, delta, pmdMappedKb } from '../guest/proc.js';
import { type Content, contentOf, type Observation, type UffdFacts } from '../guest/protocol.js';
import { alignedHole, FILE_SEED, type GuestEnv, MEMTYPES, type MemType, type Region, withFileData } from './memtypes.js';
import { caseId, PLAIN, pmdBeforeOp, product, type Recorded, record, withFilledRegion, withRegion } from './observe.js';
import { RANGES, type RangeVariant, ZAP_OPS, type ZapOp } from './zap.js';

export const SEED = 0x47;

/** UFFD_FEATURE_* bits by name (include/uapi/linux/userfaultfd.h of the newest tree, 7.3). */
export const FEATURES: [string, number][] = [
  ['pagefault_flag_wp', 0],
  ['event_fork', 1],
  ['event_remap', 2],
  ['event_remove', 3],
  ['missing_hugetlbfs', 4],
  ['missing_shmem', 5],
  ['event_unmap', 6],
  ['sigbus', 7],
  ['thread_id', 8],
  ['minor_hugetlbfs', 9],
  ['minor_shmem', 10],
  ['exact_address', 11],
  ['wp_hugetlbfs_shmem', 12],
  ['wp_unpopulated', 13],
  ['poison', 14],
  ['wp_async', 15],
  ['move', 16],
  ['rwp', 17],
  ['rwp_async', 18],
];
export const bit = (name: string) => 2 ** (FEATURES.find(([n]) => n === name)?.[1] ?? -1);

/** The features a registration may need (which memory, which mode), never those that change
 * how faults are delivered (SIGBUS, WP_ASYNC) or add events the cases do not read. */
const REGISTER_FEATURES = ['missing_hugetlbfs', 'missing_shmem', 'minor_hugetlbfs', 'minor_shmem', 'wp_hugetlbfs_shmem', 'wp_unpopulated'];

/** _UFFDIO_* ioctl numbers, for naming the bits UFFDIO_REGISTER grants. */
const IOCTLS: [string, number][] = [
  ['wake', 2],
  ['copy', 3],
  ['zeropage', 4],
  ['move', 5],
  ['writeprotect', 6],
  ['continue', 7],
  ['poison', 8],
  ['rwprotect', 9],
];
export const ioctlNames = (mask: bigint) => IOCTLS.filter(([, b]) => (mask >> BigInt(b)) & 1n).map(([n]) => n);

export const MODES = { missing: 1, wp: 2, minor: 4 } as const;
export type Mode = keyof typeof MODES;

/** Whether this kernel's UFFDIO_API offers the named feature. */
export function offered(name: string): boolean {
  const u = mm.uffdOpen(0);
  if (u.errno !== undefined) return false;
  closeSync(u.fd);
  return (u.features & bit(name)) !== 0;
}

/** A userfaultfd asking for what registrations need (and `extra` features), of what this kernel offers. */
function openUffd(extra: string[] = []): { fd: number; errno?: undefined } | { errno: string; fd?: undefined } {
  const probe = mm.uffdOpen(0);
  if (probe.errno !== undefined) return probe;
  closeSync(probe.fd);
  const want = [...REGISTER_FEATURES, ...extra].map(bit).reduce((a, b) => a | b, 0) & probe.features;
  return mm.uffdOpen(want);
}

// ---- the API: each feature bit UFFDIO_API offers (asked with features 0)
interface FeatureOp {
  id: string;
  bit: number;
}
const FEATURE_OPS: FeatureOp[] = FEATURES.map(([name, b]) => ({ id: `uffd_feature_${name}`, bit: b }));

function observeFeature(op: FeatureOp, mt: MemType): Observation {
  const u = mm.uffdOpen(0);
  if (u.fd !== undefined) closeSync(u.fd);
  const offered = u.errno === undefined && (u.features & (2 ** op.bit)) !== 0;
  const r = record(op.id, '', mt, 0, u.errno !== undefined ? { errno: u.errno } : { ret: 0 }, {});
  return { ...r, poolBalanced: null, label: u.errno ?? (offered ? 'offered' : 'absent') };
}

// ---- registration of a whole mapping in each mode
interface RegisterOp {
  id: string;
  lengthsNeeded?: (mt: MemType) => number;
  modes: Mode[];
}
const REGISTER_OPS: RegisterOp[] = ([['missing'], ['wp'], ['minor'], ['missing', 'wp'], ['missing', 'minor']] as Mode[][]).map((modes) => ({
  id: `uffd_register_${modes.join('_')}`,
  modes,
}));

/** The THP word of a uffd cell (over the whole region, its data all mapped), as a list to spread. */
export const withPmd = (o: Recorded, len: number, partial = false, kept = true) => {
  const w = pmdWord(o, len, partial, kept);
  return w ? [w] : [];
};

/** The region as a registration finds it: empty, except that a THP type is filled first so that
 * its cell can say whether PMDs still map the range afterwards. */
const withRegisterRegion = (mt: MemType, env: GuestEnv, len: number, body: (region: Region) => Recorded, label: (o: Recorded) => string) =>
  mt.backing === 'anon-thp' ? withFilledRegion(mt, env, len, SEED, body, label) : withRegion(mt, env, len, {}, body, label);

function observeRegister(op: RegisterOp, mt: MemType, env: GuestEnv, len: number): Observation {
  return withRegisterRegion(
    mt,
    env,
    len,
    (region) => {
      const pmdBefore = pmdBeforeOp(mt, region.addr, len);
      const u = openUffd();
      if (u.errno !== undefined) return record(op.id, '', mt, len, u, {});
      try {
        const r = mm.uffdRegister(
          u.fd,
          region.addr,
          len,
          op.modes.map((m) => MODES[m]).reduce((a, b) => a | b, 0),
        );
        const thp = pmdBefore === null ? {} : { pmdBefore, pmdAfter: pmdMappedKb(region.addr, len) };
        return record(op.id, '', mt, len, r.errno !== undefined ? r : { ret: 0 }, r.errno !== undefined ? {} : { ioctls: ioctlNames(r.ioctls), ...thp });
      } finally {
        closeSync(u.fd);
      }
    },
    (o) => (o.errno ? o.errno : [`ok ${(o.ioctls ?? []).join(',') || 'none'}`, ...withPmd(o, len)].join(' ')),
  );
}

// ---- seed 002's table: populate, register, zap, touch
interface TouchOp extends ZapOp {
  mode: Mode;
  zap: ZapOp;
}

/** The memory types a mode can register at all (mm/userfaultfd.c vma_can_userfault()): every
 * anonymous, shmem or hugetlb mapping for MISSING; shmem and hugetlb for MINOR. ext4 never. */
export const registrable = (mode: Mode, mt: MemType) => mt.backing !== 'ext4' && (mode !== 'minor' || mt.hugetlb || mt.shared || mt.file);

const TOUCH_OPS: TouchOp[] = (['missing', 'minor'] as Mode[]).flatMap((mode) =>
  ZAP_OPS.filter((z) => z.id !== 'punch_hole_nokeep').map((zap) => ({
    ...zap,
    id: `uffd_${mode}_${zap.id}`,
    mode,
    zap,
    applies: (mt: MemType) => zap.applies(mt) && registrable(mode, mt),
  })),
);

/** The observation's facts of a handler's counts: the first fault's address as an offset from `base`. */
export function factsOf(c: UffdCounts, base: bigint): UffdFacts {
  const { missing, minor, wp, remove, unmap, remap, fork, stuck } = c;
  return {
    missing,
    minor,
    wp,
    remove,
    unmap,
    remap,
    fork,
    ...(c.resolveErrno ? { resolveErrno: c.resolveErrno } : {}),
    stuck,
    ...(c.firstAddr ? { faultOffset: Number(BigInt(c.firstAddr) - base) } : {}),
  };
}

/** The faults the touch met, as one word: `missing:N`, `minor:N` (both when both), `none`. */
export function faultWord(u: Pick<UffdCounts, 'missing' | 'minor' | 'wp'>): string {
  const parts = (['missing', 'minor', 'wp'] as const).filter((k) => u[k] > 0).map((k) => `${k}:${u[k]}`);
  return parts.length ? parts.join(' ') : 'none';
}

/** Open a userfaultfd (with `extra` features), register the region in `mode`, run `body` with
 * the fd and close it; a refused open or registration is the cell (via `fail`). */
export function registered(
  region: Region,
  mode: Mode,
  extra: string[],
  fail: (facts: Partial<Recorded>, r: Sys) => Recorded,
  body: (fd: number) => Recorded,
): Recorded {
  const u = openUffd(extra);
  if (u.errno !== undefined) return fail({}, u);
  try {
    const reg = mm.uffdRegister(u.fd, region.addr, region.len, MODES[mode]);
    if (reg.errno !== undefined) return fail({ registerErrno: reg.errno }, { ret: 0 });
    return body(u.fd);
  } finally {
    closeSync(u.fd);
  }
}

function observeTouch(op: TouchOp, range: RangeVariant, mt: MemType, env: GuestEnv, len: number): Observation {
  const { offset, len: tlen } = range.target(len);
  const granule = mt.hugePage(env) || 4096;
  return withFilledRegion(
    mt,
    env,
    len,
    SEED,
    (region) =>
      registered(
        region,
        op.mode,
        [],
        (facts, r) => record(op.id, range.id, mt, tlen, r, { offset, ...facts }),
        (fd) => {
          const pmdBefore = pmdBeforeOp(mt, region.addr, len);
          const before = counters(region.fd);
          const mapBefore = mm.pagemap(region.addr + BigInt(offset), tlen);
          const r = op.zap.apply(region, { addr: region.addr + BigInt(offset), offset, len: tlen });
          const pmd = pmdBefore === null ? {} : { pmdBefore, pmdAfter: pmdMappedKb(region.addr, len) };
          const after = counters(region.fd);
          const mapAfter = mm.pagemap(region.addr + BigInt(offset), tlen);
          const backing = delta(before, after, mapAfter.anon - mapBefore.anon);
          if (r.errno !== undefined) return record(op.id, range.id, mt, tlen, r, { offset });
          const t = mm.uffdTouch(fd, region.addr, len, granule, SEED, 0, FILE_SEED, 0);
          if ('errno' in t && !('missing' in t)) throw new Error(`touch: ${t.errno}`);
          const touched = t as Content & UffdCounts;
          return record(op.id, range.id, mt, tlen, r, {
            offset,
            ...pmd,
            presentBefore: mapBefore.present,
            presentAfter: mapAfter.present,
            content: contentOf(touched),
            backing,
            freed: releasedBytes(backing, mt.hugePage(env)) >= tlen / 2,
            uffd: factsOf(touched, region.addr),
          });
        },
      ),
    (o) => {
      if (o.registerErrno) return `register:${o.registerErrno}`;
      if (o.errno || !o.uffd) return label(o);
      const words = ['ok', faultWord(o.uffd)];
      if (o.content) words.push(contentWord(o.content));
      if (o.freed) words.push('freed');
      // PMDs right after the zap (before the touch refilled the range): as in the zap family.
      words.push(...withPmd(o, len, tlen < len, o.presentAfter === tlen / 4096));
      if (o.uffd.resolveErrno) words.push(`resolve:${o.uffd.resolveErrno}`);
      if (o.uffd.stuck) words.push('stuck');
      return words.join(' ');
    },
  );
}

// ---- non-cooperative events: what a registered range's owner hears of an operation on it
interface EventOp {
  id: string;
  lengthsNeeded?: (mt: MemType) => number;
  run(r: Region, align: number): Sys;
}

export const EVENT_FEATURES = ['event_remove', 'event_unmap', 'event_remap', 'event_fork'];

const EVENT_OPS: EventOp[] = [
  { id: 'uffd_event_dontneed', run: (r) => mm.madvise(r.addr, r.len, K.MADV_DONTNEED) },
  { id: 'uffd_event_remove', run: (r) => mm.madvise(r.addr, r.len, K.MADV_REMOVE) },
  {
    id: 'uffd_event_munmap',
    run: (r) => {
      const u = mm.munmap(r.addr, r.len);
      if (u.errno === undefined) r.len = 0; // gone: close() has nothing left to unmap
      return u;
    },
  },
  {
    // A move to a free address of the type's alignment.
    id: 'uffd_event_mremap',
    run: (r, align) => {
      const dest = alignedHole(r.len, align);
      const m = mm.mremap(r.addr, r.len, r.len, K.MREMAP_MAYMOVE | K.MREMAP_FIXED, dest);
      if (m.errno !== undefined) {
        mm.munmap(dest, r.len);
        return m;
      }
      r.addr = m.addr;
      return { ret: 0 };
    },
  },
  {
    // A fork whose child reads the range and exits; the parent hears of the child's copy.
    id: 'uffd_event_fork',
    run: (r) => {
      const p = mm.childProbe(r.addr, r.len, K.STEP_NONE, SEED, 0, FILE_SEED, 0);
      return p.errno ? { errno: p.errno } : { ret: 0 };
    },
  },
];

/** The events word: each kind that arrived with its count, or `none`. */
export function eventWord(u: Pick<UffdCounts, 'remove' | 'unmap' | 'remap' | 'fork'>): string {
  const parts = (['remove', 'unmap', 'remap', 'fork'] as const).filter((k) => u[k] > 0).map((k) => `${k}:${u[k]}`);
  return parts.length ? parts.join(' ') : 'none';
}

function observeEvent(op: EventOp, mt: MemType, env: GuestEnv, len: number): Observation {
  const align = Math.max(mt.hugePage(env), 2 << 20);
  const granule = mt.hugePage(env) || 4096;
  return withFilledRegion(
    mt,
    env,
    len,
    SEED,
    (region) =>
      registered(
        region,
        'missing',
        EVENT_FEATURES,
        (facts, r) => record(op.id, '', mt, len, r, facts),
        (fd) => {
          const pmdBefore = pmdBeforeOp(mt, region.addr, len);
          const h = mm.uffdStart(fd, region.addr, len, granule, SEED);
          if (h.errno !== undefined) throw new Error(`uffd handler: ${h.errno}`);
          const r = op.run(region, align);
          const uffd = factsOf(mm.uffdStop(h.handle), region.addr);
          // Where the range is now (moved, or gone after munmap), and whether PMDs map it there.
          const thp =
            pmdBefore === null
              ? {}
              : {
                  pmdBefore,
                  pmdAfter: region.len ? pmdMappedKb(region.addr, region.len) : 0,
                  presentAfter: region.len ? mm.pagemap(region.addr, region.len).present : 0,
                };
          return record(op.id, '', mt, len, r, { uffd, ...thp });
        },
      ),
    (o) =>
      o.registerErrno
        ? `register:${o.registerErrno}`
        : [o.errno ?? 'ok', o.uffd ? eventWord(o.uffd) : 'none', ...withPmd(o, len, false, o.presentAfter === len / 4096)].join(' '),
  );
}

export function uffdCases(env: GuestEnv): Case[] {
  const anon = MEMTYPES.filter((mt) => mt.id === 'anon-private');
  const features: Case[] = FEATURE_OPS.flatMap((op) => anon.map((mt) => ({ id: caseId(op.id, '', mt.id), skip: null, run: () => observeFeature(op, mt) })));
  const register = product(
    env,
    REGISTER_OPS,
    PLAIN,
    () => true,
    (op, _v, mt, len) => observeRegister(op, mt, env, len),
  );
  const touch = product(
    env,
    TOUCH_OPS.map((op) => ({ ...op, lengthsNeeded: withFileData })),
    RANGES,
    (op, mt) => op.applies(mt),
    (op, range, mt, len) => observeTouch(op, range, mt, env, len),
  );
  const events = product(
    env,
    EVENT_OPS.map((op) => ({ ...op, lengthsNeeded: withFileData })),
    PLAIN,
    (_op, mt) => registrable('missing', mt),
    (op, _v, mt, len) => observeEvent(op, mt, env, len),
  );
  return [...features, ...register, ...touch, ...events];
}
