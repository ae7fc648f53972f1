// Results as the tests build them: one kernel, one observation, one run, each with the
// fields a test does not care about filled in, and `over` for those it does.
import type { Observation } from '../../guest/protocol.js';
import { type CaseResult, type KernelResult, RESULTS_SCHEMA, type Results } from '../../reports/results.js';

export const kernelResult = (over: Partial<KernelResult> = {}): KernelResult => ({
  spec: 'debian:bookworm',
  id: 'k',
  version: '1',
  release: '6.1.0',
  accel: 'tcg',
  bootSeconds: 1,
  hugePageKb: 2048,
  hugepagesRequested: 64,
  hugepagesObtained: 64,
  thp: 'madvise',
  error: null,
  cases: [],
  ...over,
});

export const resultsOf = (kernels: KernelResult[], over: Partial<Results> = {}): Results => ({
  schema: RESULTS_SCHEMA,
  runId: 'r1',
  started: 'a',
  finished: 'b',
  complete: true,
  kernels,
  ...over,
});

export const observation = (id: string, label: string, over: Partial<Observation> = {}): Observation => ({
  schema: 'mmatrix.observation/4',
  case: id,
  op: id.split('.')[0],
  memtype: id.split('.')[1] ?? '',
  len: 4096,
  ret: 0,
  errno: null,
  presentBefore: null,
  presentAfter: null,
  content: null,
  backing: null,
  freed: null,
  poolBalanced: null,
  label,
  ...over,
});

export const observedCase = (id: string, label: string, family = 'zap'): CaseResult => ({
  id,
  family,
  status: 'observed',
  observation: observation(id, label),
});
