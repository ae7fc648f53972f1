// Runs a list of cases in this one node process and prints TAP. A case that throws
// becomes a `not ok` point with the error; the rest of the suite goes on. Before each
// case its announcement goes into the kernel log, which the serial console prints at once,
// so when a case takes the kernel down the runner knows which one did; the TAP stream is
// written in batches (every write wakes dropbear and costs a guest context switch: under TCG
// that took a seventh of a family's time, docs/figures.md). Under KVM, where each byte to the
// serial port is an exit to QEMU, or where the console cannot carry the announcement, a
// `# case <id>` comment is flushed before each case instead. What the kernel
// logged or tainted during a case rides along in its point as `kernel`.
import { existsSync, readFileSync } from 'node:fs';
import { KernelWatch } from './kmsg.js';
import { type CaseError, encodeAnnouncement, encodePoint } from './protocol.js';
import { Tap } from './tap.js';

/** Thrown by a case that finds, once running, that it cannot ask its question here (a THP
 * type whose range got no THP): the case is a SKIP with the reason, not an error. */
export class SkipCase extends Error {}

/** Thrown by a case that finds something outside it changed what it observed (another of node's
 * threads mapped memory into a range the case had unmapped): the case is run again, as after
 * khugepaged's collapses. */
export class Disturbed extends Error {}

export interface Case {
  id: string;
  skip?: string | null; // reason the case cannot run here
  khugepaged?: boolean; // its region is madvised MADV_HUGEPAGE: khugepaged may collapse it meanwhile
  run(): object;
}

const COLLAPSED = '/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed';
/** Huge pages khugepaged has collapsed since boot (MADV_COLLAPSE does not count), or null without THP. */
function collapsedSoFar(): string | null {
  return existsSync(COLLAPSED) ? readFileSync(COLLAPSED, 'utf8') : null;
}

/** A khugepaged case whose run saw khugepaged collapse something is run again: what it observed
 * may be khugepaged's doing, not the operation's (it wakes as soon as a process first madvises
 * MADV_HUGEPAGE, whatever its sleep); so is a case that threw Disturbed. After ATTEMPTS such runs
 * the case is an error. */
const ATTEMPTS = 3;
function runOnce(c: Case, tap: Tap, collapsed: () => string | null): object {
  for (let attempt = 1; ; attempt++) {
    const before = c.khugepaged ? collapsed() : null;
    let why: string;
    try {
      const obs = c.run();
      if (before === null || collapsed() === before) return obs;
      why = 'khugepaged collapsed pages';
    } catch (e) {
      if (!(e instanceof Disturbed)) throw e;
      why = e.message;
    }
    if (attempt === ATTEMPTS) throw new Error(`${why} during each of ${ATTEMPTS} runs: no observation is the operation's alone`);
    tap.comment(`${why} during ${c.id}: run ${attempt + 1} of at most ${ATTEMPTS}`);
  }
}

/** `announce`: a case's announcement on the console (guest/kmsg.ts), or null to flush it in the
 * TAP stream before each case. */
export function runCases(
  cases: Case[],
  tap = new Tap(),
  watch = new KernelWatch(),
  collapsed = collapsedSoFar,
  announce: ((id: string) => void) | null = null,
): number {
  tap.plan(cases.length);
  let failed = 0;
  for (const c of cases) {
    if (announce) tap.flushIfDue();
    if (c.skip) {
      tap.skip(c.id, c.skip);
      continue;
    }
    tap.comment(encodeAnnouncement(c.id));
    if (announce) announce(c.id);
    else tap.flush(); // the announcement, and every point before it, is out before the case runs
    const t0 = performance.now();
    try {
      const obs = runOnce(c, tap, collapsed);
      const ms = performance.now() - t0;
      const kernel = watch.since();
      tap.point(true, c.id, encodePoint(kernel ? { ...obs, kernel } : obs, ms));
    } catch (e) {
      if (e instanceof SkipCase) {
        watch.since();
        tap.skip(c.id, e.message);
        continue;
      }
      failed += 1;
      const ms = performance.now() - t0;
      const err = e instanceof Error ? e : new Error(String(e));
      const kernel = watch.since();
      const point: CaseError = { error: err.message, stack: (err.stack ?? '').split('\n').slice(1, 4).join(' | '), ...(kernel ? { kernel } : {}) };
      tap.point(false, c.id, encodePoint(point, ms));
    }
  }
  tap.flush();
  watch.close();
  return failed;
}
