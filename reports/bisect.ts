// A semantic bisection's record (bisect.json) and its pure parts: how a step's cells are
// judged against the two ends, and the summary printed at the end.

/** What each named case said at one revision: its label, or its status (SKIP, CRASH, …), or absent. */
export type Cells = Record<string, string>;

/** good / bad: the cells equal one end's; skip: the kernel did not build or boot (never a
 * semantic change); neither: booted, and the cells match neither end (reported, not guessed). */
export type StepVerdict = 'good' | 'bad' | 'skip' | 'neither';

export interface BisectStep {
  commit: string;
  subject: string;
  role: 'good' | 'bad' | 'step'; // the two ends, then git bisect's picks
  verdict: StepVerdict;
  cells: Cells | null;
  failure: string | null; // why a skipped step did not build or boot
  compiled: boolean; // false when the kernel came from the cache
  buildSeconds: number;
  runSeconds: number;
  run: string | null; // the step's run folder, relative to the bisection's
}

export type BisectEnd =
  | { kind: 'found'; commit: string; subject: string; before: Cells; after: Cells; reproduce: string[] }
  | { kind: 'unresolved'; candidates: string[]; why: string };

export interface BisectRecord {
  schema: 1;
  tree: string;
  good: string; // full hashes
  bad: string;
  goodRev: string; // as the user named them
  badRev: string;
  cases: string[]; // the -c patterns
  patches: string | null;
  revisions: number; // commits in good..bad: the candidates for the first changed one
  started: string;
  finished: string | null;
  steps: BisectStep[];
  end: BisectEnd | null;
}

/** Judge a step's cells against the ends'. Every case either end has counts; one the step
 * lacks is 'absent'. Cells that equal one end on some cases and the other on the rest are
 * neither: a bisection of several cases needs them to change together. */
export function classify(cells: Cells | null, good: Cells, bad: Cells): StepVerdict {
  if (!cells) return 'skip';
  const ids = [...new Set([...Object.keys(good), ...Object.keys(bad)])];
  const same = (end: Cells) => ids.every((id) => (cells[id] ?? 'absent') === (end[id] ?? 'absent'));
  if (same(good)) return 'good';
  if (same(bad)) return 'bad';
  return 'neither';
}

/** The cases whose cells differ between the two ends, with both values. */
export function changedCells(good: Cells, bad: Cells): { id: string; from: string; to: string }[] {
  const ids = [...new Set([...Object.keys(good), ...Object.keys(bad)])].sort();
  return ids.flatMap((id) => {
    const [from, to] = [good[id] ?? 'absent', bad[id] ?? 'absent'];
    return from === to ? [] : [{ id, from, to }];
  });
}

/** git bisect's step count for `n` candidates: ⌈log2 n⌉ (at least one). */
export const stepsFor = (n: number): number => Math.max(1, Math.ceil(Math.log2(Math.max(2, n))));

/** The builds a bisection compiled (cached kernels do not count). */
export const compiledBuilds = (r: BisectRecord): number => r.steps.filter((s) => s.compiled).length;

const short = (c: string) => c.slice(0, 12);

/** The end of a bisection, for people: the first commit and its two labels, or why there is none. */
export function renderBisect(r: BisectRecord): string {
  const lines = [`# Bisection of ${r.cases.join(', ')}: ${r.goodRev} (good) .. ${r.badRev} (bad) in ${r.tree}`, ''];
  const good = r.steps.find((s) => s.role === 'good')?.cells ?? {};
  lines.push('| # | commit | subject | verdict | cells | build s | run s |', '|---|---|---|---|---|---|---|');
  r.steps.forEach((s, i) => {
    const cells = s.cells
      ? Object.entries(s.cells)
          .map(([id, v]) => `${id}: ${v}`)
          .join('; ')
      : (s.failure ?? '');
    const build = s.compiled ? s.buildSeconds.toFixed(0) : 'cached';
    lines.push(
      `| ${i} | ${short(s.commit)} | ${s.subject.replace(/\|/g, '\\|')} | ${s.role === 'step' ? s.verdict : `${s.role} end`} | ${cells.replace(/\|/g, '\\|')} | ${build} | ${s.runSeconds.toFixed(0)} |`,
    );
  });
  lines.push('', `${r.steps.length} revision(s) tested of ${r.revisions} commit(s) in the range; ${compiledBuilds(r)} kernel build(s).`, '');
  const e = r.end;
  if (!e) lines.push('Not finished: run the same command again to resume.');
  else if (e.kind === 'found') {
    lines.push(`First commit where the cells change: **${e.commit}** ${e.subject}`, '');
    for (const c of changedCells(e.before, e.after)) lines.push(`- ${c.id}: ${c.from} → ${c.to}`);
    lines.push('', 'Reproduce:', '', ...e.reproduce.map((c) => `    ${c}`));
  } else {
    lines.push(`No single commit: ${e.why}`, '', ...e.candidates.map((c) => `- ${c}`));
  }
  const odd = r.steps.filter((s) => s.verdict === 'neither');
  if (odd.length) {
    lines.push('', 'Revisions whose cells match neither end (skipped by the bisection, not guessed):', '');
    for (const s of odd)
      lines.push(
        `- ${short(s.commit)} ${s.subject}: ${changedCells(good, s.cells ?? {})
          .map((c) => `${c.id}: ${c.to}`)
          .join('; ')}`,
      );
  }
  return `${lines.join('\n')}\n`;
}
