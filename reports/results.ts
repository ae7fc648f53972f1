// The results of a run: what results.json holds. Versioned; the host's only model.
import type { Observation } from '../guest/protocol.js';
import type { Verdict } from './expectations.js';
import type { Fingerprint } from './fingerprint.js';

export const RESULTS_SCHEMA = 'mmatrix.results/1' as const;

// observed: the case ran and its observation is recorded; skip: it cannot run here (reason);
// error: the case threw in the guest; crash: the kernel died during it (panic, oops that killed
// the guest); timeout: it did not finish, the guest answering SSH or not (reason says which).
export type CaseStatus = 'observed' | 'skip' | 'error' | 'crash' | 'timeout';

/** A kernel selftest's result, kselftest's words. */
export type SelftestResult = 'PASS' | 'FAIL' | 'SKIP' | 'XFAIL';

/** One row of the kselftest family: a subtest's point, or the whole test's exit code. */
export interface SelftestRecord {
  test: string; // the invocation's name: the binary, with @variant where the tree runs it several ways
  subtest: string | null; // null on the test's own row, judged by its exit code
  result: SelftestResult;
  tree: string; // where the test was built from (linux-source-6.1=6.1.176-1, git:<hash>, …)
  command: string; // as it ran in the guest
  exit?: number | null; // the test's own row: its exit code, null when the timeout killed it
  detail?: string; // the lines before a failing or skipped point, or the end of the output
}

export interface CaseResult {
  id: string;
  family?: string; // the suite family that ran it
  status: CaseStatus;
  observation?: Observation;
  selftest?: SelftestRecord; // the kselftest family's rows instead of an observation
  reason?: string; // why skipped, or what went wrong
  console?: string; // for a crash or timeout: the guest console's last lines
  verdict?: Verdict; // the expectation table's judgement of an observed case
  durationMs?: number; // how long the case ran: in the guest, or up to the crash or hang as the host saw it
}

export interface KernelResult {
  spec: string;
  id: string;
  version: string;
  release: string | null;
  accel: string | null;
  bootSeconds: number | null;
  hugePageKb: number | null;
  hugepagesRequested: number;
  hugepagesObtained: number | null;
  gigantic?: number | null; // 1 GiB huge pages the guest obtained
  thp: string | null;
  error: { phase: string; message: string; detail?: string } | null;
  fingerprint?: Fingerprint; // the environment the cases ran in, once the guest was up
  familiesDone?: string[]; // suite families that ran to their end (a resumed run skips them)
  /** Families after which the hugetlb pools were not back at their baseline from boot. */
  poolDrift?: { after: string; drift: string[] }[];
  cases: CaseResult[];
}

export interface Results {
  schema: typeof RESULTS_SCHEMA;
  runId: string;
  started: string;
  finished: string | null;
  complete: boolean; // false when interrupted or a kernel failed to run
  /** What was asked for, so `run --resume` can finish the same run. */
  options?: {
    kernels: string[];
    families: string[];
    cases: string[];
    hugepages: number;
    pool1g: number | 'auto';
    memoryMb: number;
    tests?: string[]; // the kselftest family's selftests
    fromTree?: string; // and the tree they came from, when not each kernel's own
  };
  kernels: KernelResult[];
}

/** What an observed cell says: the observation's label, or a selftest's result. */
/** A kernel's cases by id, the first of each id (as a search from the front finds it): the
 * reports look up every case id on every kernel, and a search per lookup made a five-kernel
 * run spend more of its time rendering than the guests spent in their cases. */
export function casesById(k: KernelResult): Map<string, CaseResult> {
  const m = new Map<string, CaseResult>();
  for (const c of k.cases) if (!m.has(c.id)) m.set(c.id, c);
  return m;
}

export const labelOf = (c: CaseResult): string => c.observation?.label ?? c.selftest?.result ?? 'ERROR';

/** What a cell says, for comparing two runs of it: the label, else the status (SKIP, CRASH, …), or absent. */
export const cellValue = (c: CaseResult | undefined): string => (!c ? 'absent' : c.status === 'observed' ? labelOf(c) : c.status.toUpperCase());

/** A cell's text for the matrix: the label, ✓ when it conforms, ✗ and what was expected when not. */
export function cellText(c: CaseResult | undefined): string {
  if (!c) return '—';
  if (c.status === 'skip') return 'SKIP';
  if (c.status === 'error') return 'ERROR';
  if (c.status === 'crash') return 'CRASH';
  if (c.status === 'timeout') return 'TIMEOUT';
  const label = `${labelOf(c)}${c.observation?.poolBalanced === false ? ' ⚠pool' : ''}${c.observation?.kernel ? ' ⚠kernel' : ''}`;
  const v = c.verdict;
  if (v?.status === 'conformant') return `${label} ✓`;
  if (v?.status === 'deviation') return `${label} ✗ (expected ${v.expected})`;
  return label;
}

export function verdictCounts(k: KernelResult): Record<'conformant' | 'deviation' | 'none', number> {
  const n = { conformant: 0, deviation: 0, none: 0 };
  for (const c of k.cases) if (c.status === 'observed') n[c.verdict?.status ?? 'none']++;
  return n;
}

/** A kernel's name in reports: its release, and its build where another kernel of `all` has
 * the same release (a patch series beside its base): `6.1.176 (6.1.176-1 + 1 patch(es))`. */
export function kernelTitle(k: KernelResult, all: KernelResult[] = [k]): string {
  const release = (x: KernelResult) => x.release ?? x.spec;
  const twins = all.filter((x) => x !== k && release(x) === release(k));
  if (twins.length === 0) return release(k);
  return `${release(k)} (${twins.some((x) => x.version === k.version) ? k.spec : k.version})`;
}

/** One line per deviating cell, at most `max` (and how many more): `7.3.0-1-amd64 madv_free.anon-private: ok kept, expected ok zeroed freed`. */
export function deviationLines(kernels: KernelResult[], max: number): string[] {
  const lines = kernels.flatMap((k) =>
    k.cases.flatMap((c) => (c.verdict?.status === 'deviation' ? [`${k.release ?? k.spec} ${c.id}: ${labelOf(c)}, expected ${c.verdict.expected}`] : [])),
  );
  return lines.length > max ? [...lines.slice(0, max), `… and ${lines.length - max} more (matrix.md lists them all)`] : lines;
}

/** Cases that left a hugetlb pool off its pre-case baseline: a leak or an underflow. */
export function poolLeaks(k: KernelResult): CaseResult[] {
  return k.cases.filter((c) => c.observation?.poolBalanced === false);
}

/** Crashed and timed-out cases: the kernel (or a test) broke the guest there. */
export const brokenCases = (k: KernelResult) => k.cases.filter((c) => c.status === 'crash' || c.status === 'timeout');

/** Cases during which the kernel logged trouble or changed its taint flags. */
export const kernelEvents = (k: KernelResult) => k.cases.filter((c) => c.observation?.kernel);
