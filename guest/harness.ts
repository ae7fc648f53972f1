// Runs a list of cases in this one node process and prints TAP. A case that throws
// becomes a `not ok` point with the error; the rest of the suite goes on.
import { Tap } from './tap.js';

export interface Case {
  id: string;
  skip?: string | null; // reason the case cannot run here
  run(): object;
}

export function runCases(cases: Case[], tap = new Tap()): number {
  tap.plan(cases.length);
  let failed = 0;
  for (const c of cases) {
    if (c.skip) {
      tap.skip(c.id, c.skip);
      continue;
    }
    try {
      tap.point(true, c.id, c.run());
    } catch (e) {
      failed += 1;
      const err = e instanceof Error ? e : new Error(String(e));
      tap.point(false, c.id, { error: err.message, stack: (err.stack ?? '').split('\n').slice(1, 4).join(' | ') });
    }
  }
  return failed;
}
