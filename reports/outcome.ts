// The outcome of a case, decided once: every renderer (matrix.md, matrix.html, junit.xml, the
// TAP stream) and every exit code reads it from OUTCOMES. A new outcome does not compile until
// the table says what it is in each of them.
import type { CaseResult } from './results.js';

export type Outcome =
  | 'conformant' // observed, and the label is the expected one
  | 'unjudged' // observed, no expectation entry for this kernel
  | 'deviation' // observed, another label than the expected one
  | 'pool-leak' // the case left a hugetlb pool off its pre-case baseline
  | 'kernel-trouble' // the kernel logged a BUG/Oops/WARNING/lockup or changed its taint during the case
  | 'crash' // the kernel died during the case
  | 'hung-kernel' // no result, and the kernel no longer answered SSH
  | 'hung-test' // no result, the kernel still answering: the test hung
  | 'case-error' // the case threw in the guest
  | 'selftest-pass' // a kernel selftest passed (or failed as it expected to: XFAIL)
  | 'selftest-fail' // a kernel selftest failed: the kernel or the test is wrong
  | 'skip' // cannot run here, with a reason
  | 'missing'; // the kernel has no such case (its run died, or it was never run)

/** KCIDB's status model, worst first: FAIL (the kernel did wrong), ERROR (the harness or the
 * test did), MISS (never ran), PASS (conforms), DONE (ran, nothing to judge it by), SKIP. */
export const KCIDB = ['FAIL', 'ERROR', 'MISS', 'PASS', 'DONE', 'SKIP'] as const;
export type Kcidb = (typeof KCIDB)[number];

export interface OutcomeRow {
  kcidb: Kcidb;
  junit: 'pass' | 'failure' | 'error' | 'skipped';
  tapOk: boolean; // `ok` or `not ok` in the TAP stream
  /** What the case makes of the run's exit code: 1 (the kernel did wrong), 2 (a result is
   * missing or untrustworthy) or 0. */
  exit: 0 | 1 | 2;
  /** Whether it still counts under --baseline, where the gate judges label changes instead of
   * the expectation table: everything the kernel did wrong except a plain deviation. */
  gated: boolean;
}

export const OUTCOMES: Record<Outcome, OutcomeRow> = {
  conformant: { kcidb: 'PASS', junit: 'pass', tapOk: true, exit: 0, gated: false },
  unjudged: { kcidb: 'DONE', junit: 'pass', tapOk: true, exit: 0, gated: false },
  deviation: { kcidb: 'FAIL', junit: 'failure', tapOk: false, exit: 1, gated: false },
  'pool-leak': { kcidb: 'FAIL', junit: 'failure', tapOk: false, exit: 1, gated: true },
  'kernel-trouble': { kcidb: 'FAIL', junit: 'failure', tapOk: false, exit: 1, gated: true },
  crash: { kcidb: 'FAIL', junit: 'failure', tapOk: false, exit: 1, gated: true },
  'hung-kernel': { kcidb: 'FAIL', junit: 'failure', tapOk: false, exit: 1, gated: true },
  'hung-test': { kcidb: 'ERROR', junit: 'error', tapOk: false, exit: 2, gated: true },
  'case-error': { kcidb: 'ERROR', junit: 'error', tapOk: false, exit: 2, gated: true },
  'selftest-pass': { kcidb: 'PASS', junit: 'pass', tapOk: true, exit: 0, gated: false },
  'selftest-fail': { kcidb: 'FAIL', junit: 'failure', tapOk: false, exit: 1, gated: false },
  skip: { kcidb: 'SKIP', junit: 'skipped', tapOk: true, exit: 0, gated: false },
  missing: { kcidb: 'MISS', junit: 'error', tapOk: false, exit: 2, gated: true },
};

export function outcomeOf(c: CaseResult | undefined): Outcome {
  if (!c) return 'missing';
  switch (c.status) {
    case 'skip':
      return 'skip';
    case 'error':
      return 'case-error';
    case 'crash':
      return 'crash';
    case 'timeout':
      return /^hung test/.test(c.reason ?? '') ? 'hung-test' : 'hung-kernel';
    case 'observed':
      if (c.selftest) return c.selftest.result === 'FAIL' ? 'selftest-fail' : 'selftest-pass';
      if (c.verdict?.status === 'deviation') return 'deviation';
      if (c.observation?.poolBalanced === false) return 'pool-leak';
      if (c.observation?.kernel?.log.length) return 'kernel-trouble';
      return c.verdict?.status === 'conformant' ? 'conformant' : 'unjudged';
  }
}

export const outcomeRow = (c: CaseResult | undefined): OutcomeRow => OUTCOMES[outcomeOf(c)];

/** A case's KCIDB status (MISS when the kernel has no such case). */
export const kcidbStatus = (c: CaseResult | undefined): Kcidb => outcomeRow(c).kcidb;

/** A run's exit code from its cases and kernels: 1 when the kernel did wrong anywhere, else 2
 * when a result is missing (a kernel's run error, an incomplete run, a case error or hung test),
 * else 0. Under --baseline (`gated`) a plain deviation is the gate's to judge, not the table's. */
export function runExit(kernels: { cases: CaseResult[]; error: unknown; poolDrift?: unknown[] }[], complete: boolean, gated = false): 0 | 1 | 2 {
  let worst: 0 | 1 | 2 = complete ? 0 : 2;
  for (const k of kernels) {
    if (k.error) worst = worst === 1 ? 1 : 2;
    if (k.poolDrift?.length) return 1;
    for (const c of k.cases) {
      const row = outcomeRow(c);
      if (gated && !row.gated) continue;
      if (row.exit === 1) return 1;
      if (row.exit === 2) worst = 2;
    }
  }
  return worst;
}
