// The vma family: operations on the mapping itself rather than on its pages. mseal(2) and what
// a sealed range then refuses; MAP_FIXED_NOREPLACE over a mapping; and the advice that decides
// what a fork gives the child (MADV_WIPEONFORK, MADV_KEEPONFORK, MADV_DONTFORK). The region is
// filled first; the content is what a forked child reads afterwards (a sealed range can never be
// unmapped, so only a child that exits may seal it) or, for NOREPLACE, what the mapping holds.
import type { Case } from '../guest/harness.js';
import { label, pmdWord } from '../guest/label.js';
import { K, mm } from '../guest/native.js';
import { pmdMappedKb } from '../guest/proc.js';
import { type Content, contentOf, type Observation } from '../guest/protocol.js';
import { alignedHole, FILE_SEED, type GuestEnv, type MemType, type Region, withFileData } from './memtypes.js';
import { PLAIN, pmdBeforeOp, product, record, withFilledRegion } from './observe.js';

const SEED = 0x6b;

interface Done {
  errno?: string;
  content: Content;
}

export interface VmaOp {
  id: string;
  run(r: Region, align: number): Done;
}

/** A forked child does the step and reads the range back; mseal's errno wins over the operation's. */
function inChild(r: Region, step: number, dest: bigint | 0 = 0): Done {
  const p = mm.childProbe(r.addr, r.len, step, SEED, 0, FILE_SEED, dest);
  const errno = p.sealErrno ?? p.errno;
  return { ...(errno ? { errno } : {}), content: contentOf(p) };
}

const sealed = (id: string, step: string, prepare?: (r: Region) => void): VmaOp => ({
  id,
  run: (r) => {
    prepare?.(r);
    return inChild(r, K[step]);
  },
});

/** The parent gives the advice (its errno, if any, is the cell's), then a child reads the range. */
const beforeFork =
  (...advice: string[]) =>
  (r: Region): Done => {
    let res: { errno?: string } = {};
    for (const a of advice) res = mm.madvise(r.addr, r.len, K[a]);
    const child = inChild(r, K.STEP_NONE);
    return { ...(res.errno ? { errno: res.errno } : {}), content: child.content };
  };

export const VMA_OPS: VmaOp[] = [
  sealed('mseal', 'STEP_SEAL'),
  sealed('mseal_munmap', 'STEP_SEAL_MUNMAP'),
  {
    // A move of the sealed range to a free address of the type's alignment.
    id: 'mseal_mremap',
    run: (r, align) => {
      const dest = alignedHole(r.len, align);
      const done = inChild(r, K.STEP_SEAL_MREMAP, dest);
      mm.munmap(dest, r.len);
      return done;
    },
  },
  sealed('mseal_mprotect', 'STEP_SEAL_MPROTECT'),
  // A new anonymous mapping with MAP_FIXED over the sealed range.
  sealed('mseal_map_fixed', 'STEP_SEAL_MAP_FIXED'),
  sealed('mseal_dontneed', 'STEP_SEAL_DONTNEED'),
  // Made read-only before sealing: mseal refuses discarding advice on read-only anonymous memory.
  sealed('mseal_dontneed_ro', 'STEP_SEAL_DONTNEED', (r) => {
    const m = mm.mprotect(r.addr, r.len, K.PROT_READ);
    if (m.errno !== undefined) throw new Error(`mprotect: ${m.errno}`);
  }),
  {
    // A new anonymous mapping asked for exactly over the region, never replacing it.
    id: 'map_fixed_noreplace',
    run: (r) => {
      const m = mm.mmap(r.addr, r.len, K.PROT_READ | K.PROT_WRITE, K.MAP_PRIVATE | K.MAP_ANONYMOUS | K.MAP_FIXED_NOREPLACE, -1, 0);
      if (m.errno === undefined && m.addr !== r.addr) mm.munmap(m.addr, r.len); // taken as a hint elsewhere
      return { ...(m.errno ? { errno: m.errno } : {}), content: mm.scan(r.addr, r.len, SEED, 0, FILE_SEED) };
    },
  },
  { id: 'madv_wipeonfork', run: beforeFork('MADV_WIPEONFORK') },
  // Wipe-on-fork set and then cleared: the cell is KEEPONFORK's result and what the child reads.
  { id: 'madv_keeponfork', run: beforeFork('MADV_WIPEONFORK', 'MADV_KEEPONFORK') },
  { id: 'madv_dontfork', run: beforeFork('MADV_DONTFORK') },
];

function observe(op: VmaOp, mt: MemType, env: GuestEnv, len: number): Observation {
  const align = Math.max(mt.hugePage(env), 2 << 20);
  return withFilledRegion(
    mt,
    env,
    len,
    SEED,
    (region) => {
      // A THP type also says whether PMDs still map the caller's range (the child's is not measured).
      const pmdBefore = pmdBeforeOp(mt, region.addr, len);
      const done = op.run(region, align);
      const thp = pmdBefore === null ? {} : { pmdBefore, pmdAfter: pmdMappedKb(region.addr, len), presentAfter: mm.pagemap(region.addr, len).present };
      return record(op.id, '', mt, len, done.errno ? { errno: done.errno } : { ret: 0 }, { content: done.content, ...thp });
    },
    (o) =>
      label({
        ...o,
        contentAfterError: true,
        thp: pmdWord(o, len, false, o.presentAfter === len / 4096),
      }),
  );
}

export function vmaCases(env: GuestEnv): Case[] {
  return product(
    env,
    VMA_OPS.map((op) => ({ ...op, lengthsNeeded: withFileData })),
    PLAIN,
    () => true,
    (op, _v, mt, len) => observe(op, mt, env, len),
  );
}
