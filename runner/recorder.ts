// Where a run's results go as they come: each case judged, kept in results.json's model and
// journaled to cases.jsonl at once; each family's TAP and stderr beside the console; results.json
// saved after every family, so nothing finished is lost; the reports rendered at the end. Rendering
// them after every family took the host CPU the guests' QEMUs were using (docs/figures.md).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InfraError } from '../common/errors.js';
import type { Expectations } from '../reports/expectations.js';
import type { CaseResult, KernelResult, Results } from '../reports/results.js';
import type { FamilyOutcome } from './family.js';

export interface Records {
  guestDir(kernelId: string): string;
  appendCase(kernel: string, c: CaseResult): void;
  saveResults(r: Results): void; // results.json
  save(r: Results): void; // results.json and the reports
}

export class Recorder {
  constructor(
    readonly results: Results,
    private readonly folder: Records,
    private readonly expectations: Expectations,
  ) {}

  guestDir(kernelId: string): string {
    return this.folder.guestDir(kernelId);
  }

  /** A case as it finishes: judged against the table when observed, kept and journaled. */
  caseDone(spec: string, res: KernelResult, release: string, c: CaseResult): void {
    if (c.observation) c.verdict = this.expectations.judge(c.id, release, c.observation.label);
    res.cases.push(c);
    this.folder.appendCase(spec, c);
  }

  /** A family ran to its end in `dir`'s guest: its stream and stderr are kept, any pool drift
   * noted, and the family marked done (a resumed run skips it). */
  familyDone(res: KernelResult, dir: string, family: string, outcome: FamilyOutcome, drift: string[]): void {
    writeFileSync(join(dir, `${family}.tap`), outcome.tap);
    if (outcome.stderr) writeFileSync(join(dir, `${family}.stderr`), outcome.stderr);
    if (drift.length) res.poolDrift = [...(res.poolDrift ?? []), { after: family, drift }];
    res.familiesDone = [...(res.familiesDone ?? []), family];
    this.saveResults();
  }

  /** The kernel's first harness failure, kept; later ones add nothing. Returns whether it was the first. */
  kernelFailed(res: KernelResult, e: InfraError): boolean {
    if (res.error) return false;
    res.error = { phase: e.phase, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
    return true;
  }

  saveResults(): void {
    this.folder.saveResults(this.results);
  }

  save(): void {
    this.folder.save(this.results);
  }
}
