// The results of a run: what results.json holds. Versioned; the host's only model.
import type { Observation } from '../guest/schema.js';
import type { Verdict } from './expectations.js';

export const RESULTS_SCHEMA = 'mmatrix.results/1' as const;

export type CaseStatus = 'observed' | 'skip' | 'error';

export interface CaseResult {
  id: string;
  status: CaseStatus;
  observation?: Observation;
  reason?: string; // why skipped, or what went wrong
  verdict?: Verdict; // the expectation table's judgement of an observed case
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
  kernels: KernelResult[];
}

/** A cell's text for the matrix: the label, ✓ when it conforms, ✗ and what was expected when not. */
export function cellText(c: CaseResult | undefined): string {
  if (!c) return '—';
  if (c.status === 'skip') return 'SKIP';
  if (c.status === 'error') return 'ERROR';
  const label = `${c.observation?.label ?? 'ERROR'}${c.observation?.poolBalanced === false ? ' ⚠pool' : ''}`;
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

export function kernelTitle(k: KernelResult): string {
  return k.release ?? k.spec;
}

/** Cases that left a hugetlb pool off its pre-case baseline: a leak or an underflow. */
export function poolLeaks(k: KernelResult): CaseResult[] {
  return k.cases.filter((c) => c.observation?.poolBalanced === false);
}
