// Seed 002's list, regenerated from a run: for every memory type and kernel, which zap call frees
// the range's backing and guarantees that the next touch raises a userfaultfd fault (and which
// kind), which calls do not fault, and which fail. It reads the uffd family's observations only
// (whole-range cases), never a table written by hand, and compares each kernel with what seed
// 002 (Arcangeli, 2017) says QEMU picks per memory type. Pure.
import { InputError } from '../common/errors.js';
import { contentWord } from '../guest/label.js';
import type { Observation } from '../guest/protocol.js';
import type { CaseResult, KernelResult, Results } from './results.js';

/** The zap operations by their call, as a QEMU developer names them. */
const CALLS: Record<string, string> = {
  madv_dontneed: 'MADV_DONTNEED',
  madv_dontneed_locked: 'MADV_DONTNEED_LOCKED',
  madv_free: 'MADV_FREE',
  madv_remove: 'MADV_REMOVE',
  punch_hole: 'fallocate(PUNCH_HOLE)',
};

/** Seed 002's "what happens in qemu": the call it picks per kind of memory. */
const SEED: { kind: string; memtypes: string[]; call: string }[] = [
  { kind: 'anon', memtypes: ['anon-private', 'anon-thp-private'], call: 'madv_dontneed' },
  { kind: 'shmem !VM_SHARED', memtypes: ['memfd-private', 'tmpfs-private'], call: 'madv_dontneed' },
  { kind: 'shmem VM_SHARED', memtypes: ['memfd-shared', 'tmpfs-shared'], call: 'punch_hole' },
  {
    kind: 'hugetlbfs !VM_SHARED',
    memtypes: ['hugetlbfs-private', 'memfd-hugetlb-private', 'hugetlbfs-1g-private', 'memfd-hugetlb-1g-private'],
    call: 'punch_hole',
  },
  { kind: 'hugetlbfs VM_SHARED', memtypes: ['hugetlbfs-shared', 'memfd-hugetlb-shared', 'hugetlbfs-1g-shared', 'memfd-hugetlb-1g-shared'], call: 'punch_hole' },
];

export interface GuideRow {
  kernel: string;
  memtype: string;
  guaranteed: string[]; // calls after which every unit raised a MISSING fault and backing was freed
  minor: string[]; // calls after which every unit raised a MINOR fault (registered MINOR)
  noFault: string[]; // calls that succeed but leave some touch without a fault: "CALL (reads WORD)"
  fails: string[]; // "CALL errno"
  seed: string | null; // seed 002's pick and whether this kernel bears it out
}

const MODE = /^uffd_(missing|minor)_(.+)$/;

/** The facts the guide decides on, read from the observation itself (never from its label). */
function factsOf(o: Observation) {
  return {
    registerErrno: o.registerErrno ?? null,
    errno: o.errno,
    missing: o.uffd?.missing ?? 0,
    minor: o.uffd?.minor ?? 0,
    freed: o.freed === true,
    content: o.content ? contentWord(o.content) : null,
  };
}

/** Every unit of the range faulted: len/4096 units, or its huge pages for hugetlb (2 per case). */
function everyUnit(o: Observation, n: number): boolean {
  const units = o.memtype.includes('hugetlb') ? 2 : o.len / 4096;
  return n > 0 && n >= units;
}

function rowsOf(k: KernelResult, memtype: string | null): GuideRow[] {
  const byType = new Map<string, CaseResult[]>();
  for (const c of k.cases) {
    const [op, mt] = c.id.split('.');
    if (!MODE.test(op) || op.includes('@') || !c.observation || (memtype && mt !== memtype)) continue;
    byType.set(mt, [...(byType.get(mt) ?? []), c]);
  }
  return [...byType].map(([mt, cases]) => {
    const row: GuideRow = { kernel: k.release ?? k.spec, memtype: mt, guaranteed: [], minor: [], noFault: [], fails: [], seed: null };
    for (const c of cases) {
      const [, mode, zap] = MODE.exec(c.id.split('.')[0]) ?? [];
      const call = CALLS[zap] ?? zap;
      const o = c.observation!;
      const l = factsOf(o);
      if (l.registerErrno) continue;
      if (l.errno) {
        if (mode === 'missing') row.fails.push(`${call} ${l.errno}`);
      } else if (mode === 'missing' && l.freed && everyUnit(o, l.missing)) row.guaranteed.push(call);
      else if (mode === 'minor' && everyUnit(o, l.minor)) row.minor.push(call);
      else if (mode === 'missing') row.noFault.push(`${call} (reads ${l.content}${l.missing ? `, ${l.missing} missing` : ''})`);
    }
    const seed = SEED.find((s) => s.memtypes.includes(mt));
    if (seed) {
      const pick = CALLS[seed.call];
      const failed = row.fails.find((f) => f.startsWith(`${pick} `));
      const silent = row.noFault.find((f) => f.startsWith(`${pick} `));
      // A private mapping of a file that holds data reads it back without a fault; the seed's
      // guest memory file held none, so a miss (and a fault) would come there.
      const held = silent?.includes('reads file') ? ", as the file holds data of its own (the seed's guest memory file had none)" : '';
      const why = failed ? `fails with ${failed.slice(pick.length + 1)}` : `does not fault ${silent?.slice(pick.length + 1)}${held}`;
      const tag = `seed 002 (${seed.kind} -> ${pick})`;
      if (row.guaranteed.includes(pick)) row.seed = `${tag}: borne out`;
      else row.seed = failed || silent ? `${tag}: CONTRADICTED here: ${pick} ${why}` : `${tag}: not in this run`;
    }
    return row;
  });
}

export function guide(r: Results, o: { memtype?: string; kernel?: string } = {}): GuideRow[] {
  const kernels = o.kernel ? r.kernels.filter((k) => k.release === o.kernel || k.spec === o.kernel) : r.kernels;
  if (o.kernel && kernels.length === 0)
    throw new InputError(`no kernel '${o.kernel}' in run ${r.runId} (it has: ${r.kernels.map((k) => k.release ?? k.spec).join(', ')})`);
  const rows = kernels.flatMap((k) => rowsOf(k, o.memtype ?? null));
  if (rows.length === 0)
    throw new InputError(`run ${r.runId} has no uffd zap-then-touch cells${o.memtype ? ` for memory type '${o.memtype}'` : ''}: run it with -s uffd`);
  return rows;
}

const list = (xs: string[]) => (xs.length ? xs.join(', ') : '—');

export function renderGuide(rows: GuideRow[]): string {
  const out: string[] = [];
  let kernel = '';
  for (const row of rows) {
    if (row.kernel !== kernel) {
      kernel = row.kernel;
      out.push(`${out.length ? '\n' : ''}${kernel}`);
    }
    out.push(`  ${row.memtype}`);
    out.push(`    frees and guarantees a MISSING fault: ${list(row.guaranteed)}`);
    if (row.minor.length) out.push(`    guarantees a MINOR fault (registered MINOR): ${list(row.minor)}`);
    if (row.noFault.length) out.push(`    succeeds without a guaranteed fault: ${list(row.noFault)}`);
    if (row.fails.length) out.push(`    fails: ${list(row.fails)}`);
    if (row.seed) out.push(`    ${row.seed}`);
  }
  return `${out.join('\n')}\n`;
}

/** The guide as a table: one row per memory type, one column per kernel, the guaranteed calls
 * (and MINOR's, and whether the seed's pick is contradicted) in each cell; null without uffd cells. */
export function guideTable(r: Results): { kernels: string[]; rows: { memtype: string; cells: string[] }[] } | null {
  const rows = r.kernels.flatMap((k) => rowsOf(k, null));
  if (rows.length === 0) return null;
  const kernels = [...new Set(rows.map((x) => x.kernel))];
  const cell = (k: string, t: string) => {
    const row = rows.find((x) => x.kernel === k && x.memtype === t);
    if (!row) return '—';
    const minor = row.minor.length ? `; MINOR: ${row.minor.join(', ')}` : '';
    return `${list(row.guaranteed)}${minor}${row.seed?.includes('CONTRADICTED') ? ' (contradicts seed 002)' : ''}`;
  };
  return { kernels, rows: [...new Set(rows.map((x) => x.memtype))].map((t) => ({ memtype: t, cells: kernels.map((k) => cell(k, t)) })) };
}

export const GUIDE_INTRO =
  'The calls that free the range and guarantee that the next touch raises a userfaultfd MISSING fault, from the uffd cells (seed 002); `mmatrix guide` gives the calls that do not fault and those that fail.';

/** matrix.md's section: one line per memory type, one column per kernel, the guaranteed calls. */
export function guideSection(r: Results): string[] {
  const t = guideTable(r);
  if (!t) return [];
  const { kernels } = t;
  return [
    '',
    '## Zap call per memory type (userfaultfd)',
    '',
    GUIDE_INTRO,
    '',
    `| memory type | ${kernels.join(' | ')} |`,
    `|---|${kernels.map(() => '---').join('|')}|`,
    ...t.rows.map((row) => `| ${row.memtype} | ${row.cells.join(' | ')} |`),
  ];
}
