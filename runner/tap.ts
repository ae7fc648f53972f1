// The one place that reads TAP with tap-parser: a guest's stream becomes typed case
// results; protocol trouble (plan mismatch, bail out, malformed YAML) becomes errors.
import { Parser, type Result } from 'tap-parser';
import { announcedCase, decodePoint, isCaseError, isObservation, pointCase } from '../guest/protocol.js';
import type { CaseResult } from '../reports/results.js';

export interface ParsedTap {
  cases: CaseResult[];
  problems: string[]; // stream-level: empty when the stream was well-formed and complete
}

function toCase(r: Result): CaseResult {
  const id = r.name.replace(/^-\s*/, '').trim();
  if (r.skip) return { id, status: 'skip', reason: typeof r.skip === 'string' ? r.skip : 'skipped' };
  // tap-parser takes a numeric duration_ms out of the block into r.time (ms) itself.
  const { body: diag, durationMs: inBlock } = decodePoint(r.diag);
  const durationMs = typeof r.time === 'number' ? r.time : inBlock;
  const took = durationMs === null ? {} : { durationMs };
  if (!r.ok) return { id, status: 'error', reason: isCaseError(diag) ? diag.error : 'case failed without a reason', ...took };
  if (!isObservation(diag)) return { id, status: 'error', reason: 'point carries no valid observation record', ...took };
  if (diag.case !== id) return { id, status: 'error', reason: `observation names case '${diag.case}'`, ...took };
  return { id, status: 'observed', observation: diag, ...took };
}

/** A TAP reader fed chunk by chunk: each point as it completes, and the guest's
 * `# case <id>` comments (a case started). end() gives the stream-level problems. */
export class TapStream {
  readonly cases: CaseResult[] = [];
  readonly problems: string[] = [];
  started: string | null = null; // the case announced last, until its point arrives
  startedAt = 0; // Date.now() when it was announced
  lastAt = 0; // Date.now() when the last chunk came
  private readonly p = new Parser();
  private partial = ''; // an unfinished last line, for the announcement scan

  constructor(onCase: (c: CaseResult) => void = () => {}, onPlan: (count: number) => void = () => {}) {
    this.p.on('plan', (plan: { start: number; end: number }) => onPlan(plan.end - plan.start + 1));
    this.p.on('assert', (r: Result) => {
      const c = toCase(r);
      this.cases.push(c);
      onCase(c);
    });
    this.p.on('bailout', (reason: string) => this.problems.push(`bail out: ${reason}`));
    this.p.on('complete', (f) => {
      if (f.plan.end === null || f.plan.end === undefined) this.problems.push('no plan');
      else if (f.count !== f.plan.end - f.plan.start + 1) this.problems.push(`plan says ${f.plan.end} cases, stream has ${f.count}`);
      for (const e of f.failures) if (e.tapError) this.problems.push(e.tapError);
    });
  }

  write(chunk: string): void {
    this.lastAt = Date.now();
    // Announcements are read from the raw lines: the parser holds a point back until it
    // knows whether a YAML block follows, and the culprit's line may be the stream's last.
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      const announced = announcedCase(line);
      if (announced) {
        this.started = announced;
        this.startedAt = Date.now();
      } else if (this.started && pointCase(line) === this.started) this.started = null;
    }
    this.p.write(chunk);
  }

  end(): ParsedTap {
    this.p.end();
    return { cases: this.cases, problems: this.problems };
  }
}

export function parseTap(text: string): ParsedTap {
  const s = new TapStream();
  s.write(text);
  return s.end();
}
