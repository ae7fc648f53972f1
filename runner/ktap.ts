// A kernel selftest's output, read with tap-parser: one result per KTAP/TAP point, with the
// comment lines that came before it (where a failing assertion says its file and line). A test
// that prints no TAP is judged by its exit code, kselftest's way.
import { Parser, type Result } from 'tap-parser';
import type { SelftestResult } from '../reports/results.js';

export interface Subtest {
  name: string; // unique within the test (a repeated name gets #2, #3)
  result: SelftestResult;
  detail?: string; // the comment lines before the point, or its skip reason
}

export interface ParsedSelftest {
  tap: boolean; // the output had a TAP plan or points (else: points read from uffd-unit-tests' own lines, if any)
  subtests: Subtest[];
  planned: number | null;
}

/** kselftest's exit codes (kselftest.h): 0 pass, 2 xfail, 3 xpass (a pass that was not
 * expected: a failure), 4 skip, anything else a failure. null: killed (by the timeout). */
export function exitResult(code: number | null): SelftestResult {
  if (code === 0) return 'PASS';
  if (code === 4) return 'SKIP';
  if (code === 2) return 'XFAIL';
  return 'FAIL';
}

/** A subtest name as a case-id part: no spaces, nothing a pattern or a shell treats specially. */
export function subtestKey(name: string): string {
  const key = name
    .trim()
    .replace(/[^A-Za-z0-9_.:=+-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return key || 'unnamed';
}

const resultOf = (r: Result, name: string): SelftestResult => {
  if (r.skip) return 'SKIP';
  if (/#\s*XFAIL\b/i.test(name) || r.todo) return 'XFAIL';
  return r.ok ? 'PASS' : 'FAIL';
};

export function parseKtap(output: string): ParsedSelftest {
  const p = new Parser();
  const subtests: Subtest[] = [];
  const seen = new Map<string, number>();
  let comments: string[] = [];
  let planned: number | null = null;
  let group = ''; // kselftest.h tests announce each function (`# [RUN] test_holes`): names repeat across them
  p.on('comment', (c: string) => {
    const line = c.replace(/^#\s?/, '').trimEnd();
    const run = /^\[RUN\]\s+(.+)$/.exec(line);
    if (run) group = subtestKey(run[1]);
    comments.push(line);
  });
  p.on('plan', (plan: { start: number; end: number }) => {
    // tap-parser makes up an empty plan for output that has none.
    if (/^\s*\d+\.\.\d+/m.test(output)) planned = plan.end - plan.start + 1;
  });
  p.on('assert', (r: Result) => {
    // `ok 1 # XFAIL <what>` (kselftest.h's ksft_test_result_xfail) names the point after the word.
    const raw = r.name.replace(/^#\s*XFAIL\s*/i, '').replace(/\s*#\s*XFAIL\b.*$/i, '');
    const own = subtestKey(raw || (typeof r.skip === 'string' ? r.skip : '') || (typeof r.todo === 'string' ? r.todo : '') || `${r.id}`);
    const base = group && !own.startsWith(group) ? `${group}.${own}` : own;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const result = resultOf(r, r.name);
    const why = typeof r.skip === 'string' && r.skip ? r.skip : typeof r.todo === 'string' ? r.todo : '';
    const lines = comments.filter((l) => l.trim() !== '').slice(-6);
    const detail = [why, ...(result === 'PASS' ? [] : lines)].filter(Boolean).join('\n');
    subtests.push({ name: n === 1 ? base : `${base}#${n}`, result, ...(detail ? { detail } : {}) });
    comments = [];
  });
  p.end(output.endsWith('\n') ? output : `${output}\n`);
  if (planned === null && subtests.length === 0) return { tap: false, subtests: uffdUnitLines(output), planned: null };
  return { tap: true, subtests, planned };
}

/** uffd-unit-tests before it printed TAP (6.4–7.x): `Testing <test> on <memory>... done`, `...
 * skipped [reason: …]` or `... failed [reason: …]`, one line per test. */
function uffdUnitLines(output: string): Subtest[] {
  const out: Subtest[] = [];
  for (const m of output.matchAll(/^Testing (.+?)\.\.\. (done|skipped|failed)(?: \[reason: (.*)\])?\s*$/gm)) {
    const result: SelftestResult = m[2] === 'done' ? 'PASS' : m[2] === 'skipped' ? 'SKIP' : 'FAIL';
    out.push({ name: subtestKey(m[1]), result, ...(m[3] ? { detail: m[3] } : {}) });
  }
  return out;
}
