// The expectations table (suites/expectations.json): for each case pattern, the expected
// label per kernel version range and the source that says so. The suites observe; this
// table judges. Checked on load: a malformed table is bad input, never half-applied.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import { fromRoot } from '../common/paths.js';
import { patternRegex } from '../guest/pattern.js';

export const EXPECTATIONS_SCHEMA = 'mmatrix.expectations/1';

interface VersionRange {
  from?: string;
  below?: string;
  label: string;
}

interface Entry {
  cases: string[];
  versions: VersionRange[];
  source: string;
}

export type Verdict = { status: 'conformant' | 'deviation'; expected: string; source: string } | { status: 'none' };

/** "6.12.117+deb13-amd64" → [6, 12, 117]; "7.3-amd64" → [7, 3]. */
export function versionOf(release: string): number[] {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return [];
  return m
    .slice(1)
    .filter((x) => x !== undefined)
    .map(Number);
}

export function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

const inRange = (v: number[], r: VersionRange) => (!r.from || cmp(v, versionOf(r.from)) >= 0) && (!r.below || cmp(v, versionOf(r.below)) < 0);

function check(t: unknown, where: string): Entry[] {
  const bad = (why: string): never => {
    throw new InputError(`invalid expectation table ${where}: ${why}`);
  };
  const o = t as { schema?: unknown; expectations?: unknown };
  if (o?.schema !== EXPECTATIONS_SCHEMA) bad(`schema must be '${EXPECTATIONS_SCHEMA}'`);
  if (!Array.isArray(o.expectations)) bad('no expectations list');
  (o.expectations as Entry[]).forEach((e, i) => {
    if (!Array.isArray(e.cases) || !e.cases.every((c) => typeof c === 'string')) bad(`entry ${i + 1}: cases must be a list of patterns`);
    if (typeof e.source !== 'string' || !e.source.trim()) bad(`entry ${i + 1}: every expectation needs its source`);
    if (!Array.isArray(e.versions) || e.versions.length === 0) bad(`entry ${i + 1}: no versions`);
    for (const r of e.versions) {
      if (typeof r.label !== 'string') bad(`entry ${i + 1}: a version range without a label`);
      for (const k of ['from', 'below'] as const) {
        if (r[k] !== undefined && versionOf(r[k]!).length === 0) bad(`entry ${i + 1}: '${r[k]}' is not a version`);
      }
    }
  });
  return o.expectations as Entry[];
}

export class Expectations {
  private readonly entries: { patterns: RegExp[]; e: Entry }[];
  private readonly found = new Map<string, number>(); // case id → entryFor, found once per table

  constructor(table: unknown, where = '') {
    this.entries = check(table, where).map((e) => ({ patterns: e.cases.map(patternRegex), e }));
  }

  /** The entry (its index) that judges a case, or -1. A run asks for each case once per kernel
   * and once more per report: each search tries the patterns of every entry before the hit. */
  entryFor(caseId: string): number {
    let i = this.found.get(caseId);
    if (i === undefined) {
      i = this.entries.findIndex(({ patterns }) => patterns.some((re) => re.test(caseId)));
      this.found.set(caseId, i);
    }
    return i;
  }

  get size(): number {
    return this.entries.length;
  }

  static load(path = fromRoot('suites/expectations.json')): Expectations {
    let table: unknown;
    try {
      table = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new InputError(`invalid expectation table ${path}: ${(e as Error).message.replace(/\n/g, '\\n')}`);
    }
    return new Expectations(table, path);
  }

  /** The label the table expects for a case on a kernel release, with its source, or null. */
  expected(caseId: string, release: string): { label: string; source: string } | null {
    const v = versionOf(release);
    const hit = this.entries[this.entryFor(caseId)];
    const range = hit?.e.versions.find((r) => inRange(v, r));
    return hit && range ? { label: range.label, source: hit.e.source } : null;
  }

  judge(caseId: string, release: string, label: string): Verdict {
    const x = this.expected(caseId, release);
    if (!x) return { status: 'none' };
    return { status: x.label === label ? 'conformant' : 'deviation', expected: x.label, source: x.source };
  }
}
