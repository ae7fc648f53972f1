// The one place that reads TAP with tap-parser: a guest's stream becomes typed case
// results; protocol trouble (plan mismatch, bail out, malformed YAML) becomes errors.
import { Parser, type Result } from 'tap-parser';
import { isObservation } from '../guest/schema.js';
import type { CaseResult } from '../reports/results.js';

export interface ParsedTap {
  cases: CaseResult[];
  problems: string[]; // stream-level: empty when the stream was well-formed and complete
}

function toCase(r: Result): CaseResult {
  const id = r.name.replace(/^-\s*/, '').trim();
  if (r.skip) return { id, status: 'skip', reason: typeof r.skip === 'string' ? r.skip : 'skipped' };
  const diag = r.diag as Record<string, unknown> | null;
  if (!r.ok) return { id, status: 'error', reason: String(diag?.error ?? 'case failed without a reason') };
  if (!isObservation(diag)) return { id, status: 'error', reason: 'point carries no valid observation record' };
  if (diag.case !== id) return { id, status: 'error', reason: `observation names case '${diag.case}'` };
  return { id, status: 'observed', observation: diag };
}

export function parseTap(text: string): ParsedTap {
  const cases: CaseResult[] = [];
  const problems: string[] = [];
  const p = new Parser();
  p.on('assert', (r: Result) => cases.push(toCase(r)));
  p.on('bailout', (reason: string) => problems.push(`bail out: ${reason}`));
  p.on('complete', (f) => {
    if (f.plan.end === null || f.plan.end === undefined) problems.push('no plan');
    else if (f.count !== f.plan.end - f.plan.start + 1) problems.push(`plan says ${f.plan.end} cases, stream has ${f.count}`);
    for (const e of f.failures) if (e.tapError) problems.push(e.tapError);
  });
  p.end(text);
  return { cases, problems };
}
