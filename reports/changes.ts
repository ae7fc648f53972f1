// What changed between adjacent kernel columns, grouped by the expectation entry that explains
// it: a cell is explained when the table judged it conformant on both kernels, by the same
// entry (same source), with different labels — the entry predicted exactly that change. The
// rest fall in one group that no entry explains. matrix.md and matrix.html both render this.
import { cmp, versionOf } from './expectations.js';
import { type CaseResult, casesById, cellValue, type KernelResult, kernelTitle, type Results } from './results.js';

export interface Commit {
  hash: string | null;
  title: string;
  url: string | null;
}

export interface ChangeGroup {
  source: string | null; // the explaining entry's source; null: no entry explains these
  commit: Commit | null; // the first commit the source names
  changes: { id: string; from: string; to: string }[];
}

export interface PairChanges {
  from: string; // kernel titles
  to: string;
  total: number;
  groups: ChangeGroup[]; // largest first, the unexplained last; none empty
}

/** What a cell says for comparing: the label, or the status when there is none. */

/** The commit a source names for a change from release `from` to `to`: of the commits it names
 * (`commit <hash> "<title>" (…v6.9)`, or `in 5.18 (<hash>)`), the one whose version lies in
 * (from, to], else the first; without a hash, a quoted commit title. */
export function commitOf(source: string, from?: string, to?: string): Commit | null {
  const named = [...source.matchAll(/commit ([0-9a-f]{7,40})\b(?:\s*"([^"]+)")?(?:\s*\(([^)]*)\))?/g)].map((m) => ({
    hash: m[1],
    title: m[2] ?? '',
    version: /v(\d+\.\d+)/.exec(m[3] ?? '')?.[1] ?? null,
  }));
  // And a bare hash after the release it came in: `came in 5.18 (90e7e7f5ef3f)`.
  for (const m of source.matchAll(/\b(?:in |v)(\d+\.\d+)(?:-rc\d+)?[^()"]{0,20}\(([0-9a-f]{12,40})\)/g)) {
    named.push({ hash: m[2], title: '', version: m[1] });
  }
  const lo = from ? versionOf(from) : null;
  const hi = to ? versionOf(to) : null;
  const inside = (v: string | null) => v !== null && lo && hi && cmp(versionOf(v), lo) > 0 && cmp(versionOf(v), hi) <= 0;
  const hit = named.find((c) => inside(c.version)) ?? named[0];
  if (hit) return { hash: hit.hash, title: hit.title, url: `https://git.kernel.org/torvalds/c/${hit.hash}` };
  const q = [...source.matchAll(/"([^"]{8,})"/g)].find((m) => COMMIT_TITLE.test(m[1]));
  return q ? { hash: null, title: q[1], url: null } : null;
}

/** A quoted commit title reads `subsystem: what it does` ("mm/uffd: …", "mm, hugepages: …"); a
 * quote of a man page, a comment or a mail is not one. */
const COMMIT_TITLE = /^[\w./-]+(?:, ?[\w./-]+)*: \S/;

/** A source's first clause, for a line that names no commit: up to the first `.`, `;` or `:`
 * outside parentheses, at most about 100 characters. */
export function summaryOf(source: string): string {
  let depth = 0;
  let end = source.length;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0 && '.;:'.includes(c) && /\s/.test(source[i + 1] ?? ' ')) {
      end = i;
      break;
    }
  }
  const first = source.slice(0, end).trim();
  if (first.length <= 100) return first;
  const cut = first.lastIndexOf(' ', 100);
  return `${first.slice(0, cut > 40 ? cut : 100)}…`;
}

type Expected = { label: string; source: string } | null;

/** Selftest rows judge themselves, and a kernel's own tree may hold other tests than its
 * neighbour's: their changes are grouped apart, neither explained by an entry nor unexplained. */
export const SELFTEST_CHANGES = 'kernel selftests (each judges itself; a tree may have other tests than the next)';

/** The source of the entry that explains a change from label `from` to `to`: one entry expected
 * exactly those two labels on the two kernels. Null when nothing does. The gate (diff.ts) and
 * the reports both decide "explained" here. */
export function explainingSource(a: Expected, b: Expected, from: string, to: string): string | null {
  return a && b && a.source === b.source && a.label === from && b.label === to && from !== to ? b.source : null;
}

const expectedOf = (v: CaseResult['verdict']): Expected => (v && v.status !== 'none' ? { label: v.expected, source: v.source } : null);

function pairChanges(a: KernelResult, b: KernelResult, all: KernelResult[]): PairChanges {
  const groups = new Map<string | null, ChangeGroup>();
  const ids = [...new Set([...a.cases, ...b.cases].map((c) => c.id))];
  let total = 0;
  const [inA, inB] = [casesById(a), casesById(b)];
  for (const id of ids) {
    const [x, y] = [inA.get(id), inB.get(id)];
    const [from, to] = [cellValue(x), cellValue(y)];
    if (from === to) continue;
    total += 1;
    const source = id.startsWith('kselftest.') ? SELFTEST_CHANGES : explainingSource(expectedOf(x?.verdict), expectedOf(y?.verdict), from, to);
    if (!groups.has(source)) groups.set(source, { source, commit: source ? commitOf(source, a.release ?? '', b.release ?? '') : null, changes: [] });
    groups.get(source)?.changes.push({ id, from, to });
  }
  const sorted = [...groups.values()].sort((g, h) => Number(g.source === null) - Number(h.source === null) || h.changes.length - g.changes.length);
  return { from: kernelTitle(a, all), to: kernelTitle(b, all), total, groups: sorted };
}

/** For each pair of adjacent kernels of the run, in column order, the cells that changed. */
export function kernelChanges(r: Results): PairChanges[] {
  return r.kernels.slice(1).map((k, i) => pairChanges(r.kernels[i], k, r.kernels));
}
