// Advice values beyond the common set, so a kernel that gains one shows up the day it lands:
// MADV_COLLAPSE (6.1), MADV_GUARD_INSTALL / MADV_GUARD_REMOVE (6.13), MADV_COLD, and the raw value 26,
// MADV_SPLIT in the unmerged HugeTLB high-granularity-mapping series (seeds 000/001).
// Each case fills the mapping, gives the advice and reads the mapping back, as zap does.
import { fdatasyncSync, writeFileSync } from 'node:fs';
import type { Case } from '../guest/harness.js';
import { K, mm } from '../guest/native.js';
import { vmstat } from '../guest/proc.js';
import { type GuestEnv, withFileData } from './memtypes.js';
import { product } from './observe.js';
import { HOLE, observeZap, RANGES, type ZapOp } from './zap.js';

// The HGM series proposed MADV_SPLIT as 26, the next free value after MADV_COLLAPSE (25).
const MADV_SPLIT_PROPOSED = 26;

export const ADVICE_OPS: ZapOp[] = [
  {
    id: 'madv_collapse',
    lengthsNeeded: withFileData,
    pmds: true,
    applies: () => true,
    // A file's dirty pages make MADV_COLLAPSE race writeback (EAGAIN, or not, by timing):
    // write them back first, so the case asks only whether the range can be collapsed. EAGAIN
    // is MADV_COLLAPSE's "a page was transiently busy, try again" (0f3e2a2c4243 "mm/madvise:
    // MADV_COLLAPSE return EAGAIN when page cannot be isolated"); the kernel's own selftest
    // retries it once (3505c8e62acf "selftests/vm: retry on EAGAIN for MADV_COLLAPSE
    // selftest"); a 7.3 guest once gave EAGAIN on ext4 after the writeback and its retry, in
    // one run of many, so the case tries four times, writing back before each. An EAGAIN that
    // persists is still what the case records. So is a failure to allocate the huge page
    // (ENOMEM, SCAN_ALLOC_HUGE_PAGE_FAIL in madvise_collapse_errno(), 6.1), one suspect for a
    // @hole case that read ENOMEM without a PMD once (its gap answers ENOMEM as well; the cause
    // is not confirmed): the kernel counts each such failure (thp_collapse_alloc_failed,
    // mm/khugepaged.c), and when the count moves the case compacts memory and tries again.
    apply: (r, t) => {
      for (let attempt = 1; ; attempt++) {
        if (r.fd >= 0) fdatasyncSync(r.fd);
        const failed = vmstat('thp_collapse_alloc_failed');
        const res = mm.madvise(t.addr, t.len, K.MADV_COLLAPSE);
        const allocFailed = failed !== null && vmstat('thp_collapse_alloc_failed') !== failed;
        if ((res.errno !== 'EAGAIN' && !allocFailed) || attempt === 4) return res;
        if (allocFailed) writeFileSync('/proc/sys/vm/compact_memory', '1');
      }
    },
  },
  { id: 'madv_guard_install', lengthsNeeded: withFileData, applies: () => true, apply: (_r, t) => mm.madvise(t.addr, t.len, K.MADV_GUARD_INSTALL) },
  {
    id: 'madv_guard_remove',
    lengthsNeeded: withFileData,
    applies: () => true,
    // Install, then remove: what is left is what removing a guard gives back. ENOMEM from the
    // install is a range with a hole in it, guarded where it is mapped: remove goes on.
    apply: (_r, t) => {
      const installed = mm.madvise(t.addr, t.len, K.MADV_GUARD_INSTALL);
      return installed.errno !== undefined && installed.errno !== 'ENOMEM' ? installed : mm.madvise(t.addr, t.len, K.MADV_GUARD_REMOVE);
    },
  },
  // Deactivate the range's pages (5.4): reclaim takes them first; the data stays mapped.
  { id: 'madv_cold', lengthsNeeded: withFileData, applies: () => true, apply: (_r, t) => mm.madvise(t.addr, t.len, K.MADV_COLD) },
  // Reclaim the range's pages now (5.4): anonymous and shmem pages go to the guest's swap disk,
  // clean file pages are dropped, dirty ones only unmapped. Without swap the question is moot.
  {
    id: 'madv_pageout',
    lengthsNeeded: withFileData,
    applies: () => true,
    needs: (env) => (env.swap === 'none' ? 'no swap in the guest' : null),
    pages: true,
    apply: (_r, t) => mm.madvise(t.addr, t.len, K.MADV_PAGEOUT),
  },
  // process_madvise(2) on the caller itself, through a pidfd: COLD is allowed from 5.10,
  // DONTNEED only since the caller's own address space was unrestricted (6.13).
  { id: 'process_madvise_cold', lengthsNeeded: withFileData, applies: () => true, apply: (_r, t) => mm.processMadvise(t.addr, t.len, K.MADV_COLD) },
  { id: 'process_madvise_dontneed', lengthsNeeded: withFileData, applies: () => true, apply: (_r, t) => mm.processMadvise(t.addr, t.len, K.MADV_DONTNEED) },
  { id: 'madv_26', lengthsNeeded: withFileData, applies: () => true, apply: (_r, t) => mm.madvise(t.addr, t.len, MADV_SPLIT_PROPOSED) },
];

export function adviceCases(env: GuestEnv): Case[] {
  return product(
    env,
    ADVICE_OPS,
    [RANGES[0], HOLE],
    () => true,
    (op, whole, mt, len) => observeZap(op, whole, mt, env, len),
  );
}
