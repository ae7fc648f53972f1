// The coverage map (suites/coverage.json): for mmatrix cases, the upstream mm selftest lines
// that assert the same behaviour, and the selftest assertions no case covers. Kept as data
// beside the expectation table. A run with both the selftests and the cells says where a
// selftest and a cell on the same kernel disagree: one of them is wrong.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import { fromRoot } from '../common/paths.js';
import { patternRegex } from '../guest/pattern.js';
import { type CaseResult, kernelTitle, type Results } from './results.js';

export const COVERAGE_SCHEMA = 'mmatrix.coverage/1';

export interface Assertion {
  test: string; // the selftest's row name (kselftest.mm.<test>)
  subtest: string | null; // the row below it, a pattern (* and {a,b}); null: the test's own row
  file: string; // in the tree the map was read from
  line: number;
  asserts: string;
}

export interface Covered extends Assertion {
  cases: string[]; // mmatrix case patterns checking the same behaviour
}

export interface Coverage {
  schema: typeof COVERAGE_SCHEMA;
  tree: string; // the tree whose files and lines the map names
  covered: Covered[];
  uncovered: Assertion[];
}

function check(x: unknown, where: string): Coverage {
  const c = x as Coverage;
  const bad = (why: string) => new InputError(`invalid coverage map ${where}: ${why}`);
  if (typeof c !== 'object' || c === null || c.schema !== COVERAGE_SCHEMA) throw bad(`schema is not ${COVERAGE_SCHEMA}`);
  if (!Array.isArray(c.covered) || !Array.isArray(c.uncovered)) throw bad('covered and uncovered must be lists');
  for (const [i, a] of [...c.covered, ...c.uncovered].entries()) {
    if (typeof a.test !== 'string' || typeof a.file !== 'string' || !Number.isInteger(a.line) || typeof a.asserts !== 'string')
      throw bad(`entry ${i} needs test, file, line and asserts`);
  }
  for (const [i, a] of c.covered.entries()) if (!Array.isArray(a.cases) || a.cases.length === 0) throw bad(`covered entry ${i} names no case`);
  return c;
}

export function loadCoverage(path = fromRoot('suites/coverage.json')): Coverage {
  try {
    return check(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`invalid coverage map ${path}: ${(e as Error).message}`);
  }
}

/** The selftest lines that check a case. */
export const coveringOf = (map: Coverage, caseId: string): Covered[] => map.covered.filter((a) => a.cases.some((p) => patternRegex(p).test(caseId)));

/** `file:line (test subtest)`: where an assertion is. */
export const whereOf = (a: Assertion): string => `${a.file}:${a.line} (${a.test}${a.subtest ? ` ${a.subtest}` : ''})`;

/** The rows of an assertion on a kernel, from the kernel's own tree only: another tree's tests
 * (--from-tree) fail on an older kernel for want of a feature, not because a cell is wrong. */
function selftestRows(cases: CaseResult[], a: Assertion): CaseResult[] {
  const sub = a.subtest === null ? null : patternRegex(a.subtest);
  return cases.filter((c) => {
    const m = /^kselftest\.mm\.([^.]+)(?:\.(.+))?$/.exec(c.id);
    if (!m || m[1] !== a.test || !c.selftest) return false;
    return sub === null ? m[2] === undefined : m[2] !== undefined && sub.test(m[2]);
  });
}

/** What a failing row printed last before its result, in brackets ('' when nothing). */
const said = (c: CaseResult): string => {
  const line = c.selftest?.detail
    ?.split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
  return line ? ` ("${line}")` : '';
};

export interface Disagreement {
  kernel: string;
  where: string; // the assertion
  asserts: string;
  selftest: string; // e.g. `kselftest.mm.hugetlb-madvise FAIL`
  cells: string; // e.g. `madv_dontneed@head.hugetlbfs-private conforms (ok file freed)`
}

/** Where a selftest and the cells it covers disagree on a kernel: the selftest failed while the
 * cells conform to their entries, or it passed while a cell deviates. */
export function disagreements(r: Results, map: Coverage): Disagreement[] {
  const out: Disagreement[] = [];
  for (const k of r.kernels) {
    for (const a of map.covered) {
      const rows = selftestRows(k.cases, a).filter((c) => c.selftest?.result !== 'SKIP');
      if (rows.length === 0) continue;
      const res = a.cases.map(patternRegex);
      const cells = k.cases.filter((c) => c.status === 'observed' && !c.selftest && res.some((re) => re.test(c.id)));
      if (cells.length === 0) continue;
      const failed = rows.filter((c) => c.selftest?.result === 'FAIL');
      const deviating = cells.filter((c) => c.verdict?.status === 'deviation');
      const conforming = cells.filter((c) => c.verdict?.status === 'conformant');
      const say = (cs: CaseResult[], word: string) =>
        `${cs
          .slice(0, 3)
          .map((c) => `${c.id} (${c.observation?.label ?? ''})`)
          .join(', ')}${cs.length > 3 ? ` and ${cs.length - 3} more` : ''} ${word}`;
      if (failed.length && deviating.length === 0 && conforming.length)
        out.push({
          kernel: kernelTitle(k, r.kernels),
          where: whereOf(a),
          asserts: a.asserts,
          selftest: `${failed[0].id} FAIL${said(failed[0])}`,
          cells: say(conforming, 'conform to their entries'),
        });
      else if (!failed.length && deviating.length)
        out.push({
          kernel: kernelTitle(k, r.kernels),
          where: whereOf(a),
          asserts: a.asserts,
          selftest: `${rows[0].id} ${rows[0].selftest?.result}`,
          cells: say(deviating, 'deviate'),
        });
    }
  }
  // One failing test row stands behind every line of it the map names: say it once per kernel.
  const seen = new Map<string, Disagreement & { more: number }>();
  for (const d of out) {
    const key = `${d.kernel}\0${d.selftest}`;
    const had = seen.get(key);
    if (had) had.more += 1;
    else seen.set(key, { ...d, more: 0 });
  }
  return [...seen.values()].map(({ more, ...d }) => (more ? { ...d, asserts: `${d.asserts} (and ${more} more line(s) of the same test)` } : d));
}

/** matrix.md's coverage section: how many of the run's cases a selftest line covers, the
 * assertions no case covers, and the disagreements. */
export function coverageSummary(r: Results, map: Coverage): string {
  const ids = [...new Set(r.kernels.flatMap((k) => k.cases.filter((c) => !c.id.startsWith('kselftest.')).map((c) => c.id)))];
  const covered = ids.filter((id) => coveringOf(map, id).length > 0);
  return `${covered.length} of this run's ${ids.length} cases are checked by an upstream mm selftest line too (${map.covered.length} lines mapped, from ${map.tree}); ${map.uncovered.length} selftest assertions are covered by no case. The map is suites/coverage.json; \`mmatrix show CASE\` names a case's lines.`;
}

export function coverageSection(r: Results, map: Coverage): string[] {
  const lines = ['', '## Coverage by the kernel selftests', '', coverageSummary(r, map)];
  const d = disagreements(r, map);
  if (d.length) {
    lines.push('', '### Selftests and cells that disagree: one of them is wrong', '');
    for (const x of d) lines.push(`- ✗ **${x.kernel}**: ${x.selftest}, while ${x.cells}. ${x.where}: ${x.asserts}`);
  }
  return lines;
}
