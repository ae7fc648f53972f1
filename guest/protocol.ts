// The guest <-> host protocol: every format the two sides exchange is written and read here,
// and nowhere else. Imports nothing, so the guest and the host compile it alike.
//
//   host -> guest  one Request per line on the guest server's stdin (encodeRequest)
//   guest -> host  the answer: for a family its TAP 14 stream, whose points carry an
//                  Observation (ok) or a CaseError (not ok), each case announced before it runs;
//                  for pools and facts one JSON line; then a done line with the exit code
//   console        the markers /init prints (images/init.sh), which the host waits for
//
// The observation record is versioned (OBSERVATION_SCHEMA): bump it whenever the record changes.

// /2: Content counts the backing file's own data (`file`) apart from the mapping's pattern, and
// THP cases record how much of the range PMDs map (pmdBefore, pmdAfter).
// /3: `alias`, what a second, private mapping of the same file reads after the operation;
// MADV_PAGEOUT cases record the swapped units right after it and the guest's swap devices;
// the uffd family records the ioctls a registration grants and the faults a touch met.
// /4: uffd cells record where the first fault message pointed (uffd.faultOffset), the feature a
// case needed and UFFDIO_API did not offer (missingFeature), and the errno of a UFFDIO_CONTINUE
// that follows the cell's call (continueErrno).
export const OBSERVATION_SCHEMA = 'mmatrix.observation/4' as const;

/** Just the Content fields of a record that carries more (an addon result). */
export const contentOf = (c: Content): Content => ({
  pattern: c.pattern,
  file: c.file,
  zero: c.zero,
  other: c.other,
  faulted: c.faulted,
  ...(c.signal ? { signal: c.signal, si_code: c.si_code, offset: c.offset } : {}),
});

/** The userfaultfd faults (by reason) and events a touch met; resolveErrno: a fault's resolution
 * failed; stuck: the touch waited on a fault never reported. */
export interface UffdFacts {
  missing: number;
  minor: number;
  wp: number;
  remove: number;
  unmap: number;
  remap: number;
  fork: number;
  resolveErrno?: string;
  stuck: boolean;
  faultOffset?: number; // the address the first fault message reported, from the region's start
}

/** What reading the range back returned, counted in 4 KiB units. */
export interface Content {
  pattern: number; // the bytes the mapping wrote before the operation
  file: number; // the backing file's own data (each file gets a pattern of its own first)
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
  pmdBefore?: number | null; // THP cases: kB of the range mapped by PMDs before the operation (smaps)
  pmdAfter?: number | null; // and right after it
  alias?: string | null; // a private mapping of the same file, with copies of its own: what it reads afterwards
  swappedAfter?: number | null; // pagemap swapped 4 KiB units right after the operation (paging cases)
  swap?: string; // the guest's active swap devices with their sizes, 'none' (paging cases)
  ioctls?: string[] | null; // uffd register: the ioctls UFFDIO_REGISTER granted
  registerErrno?: string | null; // uffd: UFFDIO_REGISTER refused the range
  uffd?: UffdFacts | null; // uffd: the faults and events the touch after the operation met
  missingFeature?: string | null; // uffd: the feature the case needs that UFFDIO_API did not offer
  continueErrno?: string | null; // uffd: the UFFDIO_CONTINUE after the cell's call failed so (null: it worked)
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

/** A failed case's point: what the case threw, and what the kernel logged meanwhile. */
export interface CaseError {
  error: string;
  stack: string;
  kernel?: { taint: number; log: string[] };
}

export const isCaseError = (x: unknown): x is CaseError => typeof x === 'object' && x !== null && typeof (x as CaseError).error === 'string';

// ---- requests -------------------------------------------------------------------------------

/** What the host asks the guest's node process (suites/main.ts), one JSON line each. */
export type Request =
  | {
      kind: 'family';
      family: string; // run this family's cases
      patterns?: string[]; // only the cases whose id matches one (all when absent)
      after?: string; // only those after this case: resuming behind one that took a guest down
      exclude?: string[]; // and not these: the cases that took a guest down
      console?: boolean; // announce each case on the serial console and send the TAP in batches
      test?: boolean; // the runner allows the families that break the guest on purpose
    }
  | { kind: 'populate'; sizes: number[]; runs: number } // seed 004's timing experiment (PopulateFigures)
  | { kind: 'pools' } // each huge page pool's free and reserved pages (Pools)
  | { kind: 'facts' }; // what the run records of the guest (GuestFacts)

export const encodeRequest = (r: Request): string => JSON.stringify(r);

const isStrings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');

export function isRequest(x: unknown): x is Request {
  if (typeof x !== 'object' || x === null) return false;
  const r = x as Record<string, unknown>;
  if (r.kind === 'pools' || r.kind === 'facts') return true;
  if (r.kind === 'populate')
    return Array.isArray(r.sizes) && r.sizes.every((s) => Number.isInteger(s) && s > 0) && Number.isInteger(r.runs) && (r.runs as number) > 0;
  return (
    r.kind === 'family' &&
    typeof r.family === 'string' &&
    (r.patterns === undefined || isStrings(r.patterns)) &&
    (r.after === undefined || typeof r.after === 'string') &&
    (r.exclude === undefined || isStrings(r.exclude)) &&
    (r.console === undefined || typeof r.console === 'boolean') &&
    (r.test === undefined || typeof r.test === 'boolean')
  );
}

// ---- answers --------------------------------------------------------------------------------

/** Huge page pools by page size ("2048kB", "1048576kB"): free and reserved pages. */
export type Pools = Record<string, { free: number; rsvd: number }>;

export const poolKey = (bytes: number): string => `${bytes / 1024}kB`;

export function isPools(x: unknown): x is Pools {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  return Object.entries(x).every(([k, v]) => /^\d+kB$/.test(k) && typeof v === 'object' && v !== null && Number.isInteger(v.free) && Number.isInteger(v.rsvd));
}

/** What the run and the fingerprint record of the guest. */
export interface GuestFacts {
  release: string;
  hugePageKb: number;
  hugepagesObtained: number;
  gigantic: number; // 1 GiB huge pages in the pool
  thp: string; // the bracketed transparent_hugepage mode, or none
  cmdline: string; // the kernel's command line
  pageSize: number; // bytes
}

const FACT_TYPES: Record<keyof GuestFacts, 'string' | 'number'> = {
  release: 'string',
  hugePageKb: 'number',
  hugepagesObtained: 'number',
  gigantic: 'number',
  thp: 'string',
  cmdline: 'string',
  pageSize: 'number',
};

export function isFacts(x: unknown): x is GuestFacts {
  if (typeof x !== 'object' || x === null) return false;
  return Object.entries(FACT_TYPES).every(([k, t]) => typeof (x as Record<string, unknown>)[k] === t);
}

/** Seed 004's experiment in one guest: for each size, sharing, backing and method, the shortest of
 * `runs` times on an empty mapping (or file), ms; null with `error` when the method failed. */
export interface PopulateFigure {
  size: number; // bytes
  shared: boolean;
  backing: string; // the seed's name: Anon 4 KiB, Memfd 2 MiB, tmpfs, file, hugetlbfs, …
  method: string; // Read, Write, Read/Write, POPULATE_READ, POPULATE_WRITE, FALLOCATE, FALLOCATE+…
  ms: number | null;
  error?: string;
}
export interface PopulateFigures {
  runs: number;
  figures: PopulateFigure[];
}

export function isPopulateFigures(x: unknown): x is PopulateFigures {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as PopulateFigures;
  return (
    Number.isInteger(p.runs) &&
    Array.isArray(p.figures) &&
    p.figures.every(
      (f) =>
        typeof f === 'object' &&
        f !== null &&
        Number.isInteger(f.size) &&
        typeof f.shared === 'boolean' &&
        typeof f.backing === 'string' &&
        typeof f.method === 'string' &&
        (f.ms === null || typeof f.ms === 'number'),
    )
  );
}

/** A JSON answer (pools, facts, populate figures) is one line. */
export const encodeAnswer = (value: Pools | GuestFacts | PopulateFigures): string => `${JSON.stringify(value)}\n`;

/** The one JSON answer in `text` when `guard` accepts it, else null. */
export function decodeAnswer<T>(text: string, guard: (x: unknown) => x is T): T | null {
  try {
    const v: unknown = JSON.parse(text.trim());
    return guard(v) ? v : null;
  } catch {
    return null;
  }
}

// ---- framing --------------------------------------------------------------------------------

const DONE = '# mmatrix: done ';

/** The line that ends every answer, with the handler's exit code. */
export const encodeDone = (code: number): string => `${DONE}${code}\n`;

/** The exit code a done line carries, or null when `line` is not one. */
export function doneCode(line: string): number | null {
  const m = /^# mmatrix: done (\d+)$/.exec(line);
  return m ? Number(m[1]) : null;
}

/** The TAP comment the guest writes right before a case runs (flushed at once when the console
 * cannot carry the announcement: see CONSOLE_ANNOUNCEMENT). */
export const encodeAnnouncement = (id: string): string => `case ${id}`;

/** The case a raw TAP line announces, or null. */
export const announcedCase = (line: string): string | null => /^# case (\S+)$/.exec(line)?.[1] ?? null;

/** The kernel log line the guest writes (through /dev/kmsg, at KERN_ERR, so `quiet` still prints
 * it on the serial console) right before a case runs. The console survives what the TAP stream
 * does not, a panic included, so the stream can be written in batches and a case that takes the
 * guest down is still named (runner/family.ts). */
export const CONSOLE_ANNOUNCEMENT = 'mmatrix: case ';
export const encodeConsoleAnnouncement = (id: string): string => `<3>${CONSOLE_ANNOUNCEMENT}${id}\n`;

/** The case the last whole announcement line of a console text names, or null. */
export function lastConsoleAnnouncement(console: string): string | null {
  let id: string | null = null;
  for (const m of console.matchAll(new RegExp(`${CONSOLE_ANNOUNCEMENT}(\\S+)\\r?\\n`, 'g'))) id = m[1];
  return id;
}

/** A point's YAML block: the case's record (an Observation or a CaseError) and how long the
 * case ran in the guest, as TAP 14 producers write it (`duration_ms`). */
export const encodePoint = (body: object, durationMs: number): object => ({ ...body, duration_ms: Math.round(durationMs * 1000) / 1000 });

/** A point's YAML block split back into the record and its duration (null when absent). */
export function decodePoint(diag: unknown): { body: unknown; durationMs: number | null } {
  if (typeof diag !== 'object' || diag === null || !('duration_ms' in diag)) return { body: diag, durationMs: null };
  const { duration_ms, ...body } = diag as { duration_ms: unknown };
  return { body, durationMs: typeof duration_ms === 'number' && duration_ms >= 0 ? duration_ms : null };
}

/** The case a raw TAP point line reports, or null. */
export const pointCase = (line: string): string | null => /^(?:not )?ok \d+ - (\S+)/.exec(line)?.[1] ?? null;

// ---- console and guest files ----------------------------------------------------------------

/** What /init (images/init.sh) prints once dropbear runs; the host connects only then. */
export const SSHD_STARTED = 'mmatrix: sshd started';

/** A guest booted to be snapshotted (runner/snapshot.ts) has this on its kernel command line;
 * /init prints SNAPSHOT_POINT once sshd runs and node has started once, then waits for a line
 * in SNAPSHOT_GO: the time, written by the runner into each guest restored from the snapshot. */
export const SNAPSHOT_FLAG = 'mmatrix.snapshot=1';
export const SNAPSHOT_POINT = 'mmatrix: snapshot point';
export const SNAPSHOT_GO = '/run/mmatrix.go';

/** The file /init touches once the scratch disk's mount step is over, mounted or not. */
export const EXT4_DONE = '/run/mmatrix-ext4.done';
