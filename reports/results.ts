// The results of a run: what results.json holds. Versioned; the host's only model.
import type { Observation } from '../guest/schema.js';

export const RESULTS_SCHEMA = 'mmatrix.results/1' as const;

export type CaseStatus = 'observed' | 'skip' | 'error';

export interface CaseResult {
  id: string;
  status: CaseStatus;
  observation?: Observation;
  reason?: string; // why skipped, or what went wrong
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
  thp: string | null;
  error: { phase: string; message: string; detail?: string } | null;
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

/** A cell's text for the matrix. */
export function cellText(c: CaseResult | undefined): string {
  if (!c) return '—';
  if (c.status === 'skip') return 'SKIP';
  if (c.status === 'error') return 'ERROR';
  return c.observation?.label ?? 'ERROR';
}

export function kernelTitle(k: KernelResult): string {
  return k.release ?? k.spec;
}
