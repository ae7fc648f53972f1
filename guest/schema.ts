// The observation record: the one contract between guest and host. Imports nothing.
// A case's TAP point carries one record as its YAML block; the host accepts it only
// through isObservation(), which rejects unknown schema versions.

export const OBSERVATION_SCHEMA = 'mmatrix.observation/1' as const;

/** What reading the range back returned, counted in 4 KiB units. */
export interface Content {
  pattern: number; // the bytes written before the operation
  zero: number;
  other: number; // neither: stale or foreign data
  faulted: number; // the access raised a signal
  signal?: 'SIGBUS' | 'SIGSEGV';
  si_code?: number;
  offset?: number; // of the first fault, from the range start
}

/** Backing-memory counters (kB, or huge pages) and their change across the operation. */
export interface Backing {
  hugeFree: number; // HugePages_Free delta (pages)
  hugeRsvd: number; // HugePages_Rsvd delta (pages)
  shmemKb: number; // Shmem (meminfo) delta
  rssAnonKb: number; // RssAnon (self/status) delta: the whole process, node's heap included
  anonKb: number; // the range's own anonymous pages (pagemap) delta, in kB
  rssShmemKb: number; // RssShmem delta
  rssFileKb: number; // RssFile delta
  fileKb?: number; // the backing file's blocks (st_blocks) delta, in kB
}

export interface Observation {
  schema: typeof OBSERVATION_SCHEMA;
  case: string; // stable id: <op>.<memtype>
  op: string;
  memtype: string;
  len: number; // bytes in the range the operation was applied to
  offset?: number; // of that range from the mapping's start (0 when absent)
  ret: number | null; // the call's return value, null when it failed
  errno: string | null; // its errno name (EINVAL), null on success
  presentBefore: number | null; // pagemap present 4 KiB units, before the operation
  presentAfter: number | null; // and right after it, before any access
  content: Content | null; // what a read of the range returns afterwards
  outside?: string | null; // for a sub-range: what the rest of the mapping reads as (kept, zeroed, …)
  backing: Backing | null;
  freed: boolean | null; // backing memory was released (by the counters of this memory type)
  allocated?: boolean | null; // backing memory was allocated (populate)
  cow?: boolean | null; // a private mapping got private (anonymous) copies; null where RSS cannot tell (hugetlb)
  moved?: boolean | null; // mremap: the mapping now starts elsewhere
  tail?: string | null; // mremap grow: what the grown part reads as (zeroed, kept, SIGBUS, …)
  old?: string | null; // mremap: what the range the mapping left reads as (SIGSEGV when unmapped)
  child?: string | null; // resv fork: what a forked child's writes met (ok, SIGBUS)
  fault?: string | null; // populate's plain touch: the signal it met (SIGBUS), absent when none
  poolBalanced: boolean | null; // hugetlb Free/Rsvd back at the pre-case baseline after teardown
  kernel?: { taint: number; log: string[] }; // present when the kernel logged trouble (BUG, WARNING, …) or its taint changed during the case
  label: string; // short cell text, derived from the above
}

const STRING_KEYS = ['case', 'op', 'memtype', 'label'] as const;

export function isObservation(x: unknown): x is Observation {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  if (o.schema !== OBSERVATION_SCHEMA) return false;
  if (!STRING_KEYS.every((k) => typeof o[k] === 'string')) return false;
  if (typeof o.len !== 'number') return false;
  if (o.errno !== null && typeof o.errno !== 'string') return false;
  if (o.ret !== null && typeof o.ret !== 'number') return false;
  return true;
}
