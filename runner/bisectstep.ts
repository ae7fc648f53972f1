// One revision of a bisection, for real: the kernel built with src:<tree>,rev=<commit> (the
// tree's one build copy and object folder, so a step recompiles what changed since the last
// one; a kernel built before comes from the cache), booted, and only the named cases run, in a
// run folder of its own under the bisection's steps/.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cachePath } from '../common/cache.js';
import { caseFilter } from '../guest/pattern.js';
import { prepareKernel } from '../images/kernel.js';
import { patchFiles, srcKernelId } from '../images/srcbuild.js';
import type { Cells } from '../reports/bisect.js';
import type { Expectations } from '../reports/expectations.js';
import { cellValue, RESULTS_SCHEMA, type Results } from '../reports/results.js';
import { RunFolder } from '../reports/runfolder.js';
import { BUILDERS, FULL_ENV } from '../suites/catalog.js';
import { FAMILIES } from '../suites/families.js';
import type { AccelChoice } from './accel.js';
import type { Evaluate, StepOutcome } from './bisect.js';
import { guestBundle, suiteVersion } from './bundle.js';
import { GUEST_DEFAULTS } from './qemu.js';
import { Recorder } from './recorder.js';
import { type RunOptions, realHost, runWith } from './run.js';

/** The kernel spec of one revision of `tree`, with the patches on top. */
export const revisionSpec = (tree: string, commit: string, patches: string | null) => `src:${tree},rev=${commit}${patches ? `,patches=${patches}` : ''}`;

/** The guest families holding a case the patterns name: only those run. */
export const familiesOf = (patterns: string[]) => FAMILIES.filter((f) => BUILDERS[f](FULL_ENV).some((c) => caseFilter(patterns)(c.id)));

export function realStep(o: {
  tree: string;
  patches: string | null;
  cases: string[];
  dir: string;
  accel: AccelChoice;
  expectations: Expectations;
  log: (line: string) => void;
}): Evaluate {
  const families = familiesOf(o.cases);
  const guestCode = { bundle: guestBundle(), version: suiteVersion() };
  const match = caseFilter(o.cases);
  return async (commit, name): Promise<StepOutcome> => {
    const spec = revisionSpec(o.tree, commit, o.patches);
    const id = await srcKernelId(`git:${commit}`, o.patches ? patchFiles(o.patches) : []);
    const compiled = !existsSync(cachePath('kernels', id, 'kernel.json'));
    const t0 = Date.now();
    const seconds = (from: number) => (Date.now() - from) / 1000;
    const kernel = await prepareKernel(spec, false, o.log).catch((e: Error) => e);
    const buildSeconds = seconds(t0);
    if (kernel instanceof Error) return { cells: null, failure: `build: ${kernel.message}`, compiled, buildSeconds, runSeconds: 0, run: null };
    const folder = new RunFolder(join(o.dir, 'steps'), `${name.replace(/\W+/g, '-').replace(/-$/, '')}-${commit.slice(0, 12)}`);
    const options = {
      kernels: [spec],
      families,
      cases: o.cases,
      hugepages: GUEST_DEFAULTS.hugepages,
      pool1g: 'auto' as const,
      memoryMb: GUEST_DEFAULTS.memoryMb,
    };
    const results: Results = {
      schema: RESULTS_SCHEMA,
      runId: folder.id,
      started: new Date().toISOString(),
      finished: null,
      complete: false,
      options,
      kernels: [],
    };
    const run: RunOptions = {
      ...options,
      jobs: 1,
      accel: o.accel,
      bootTimeoutMs: GUEST_DEFAULTS.bootTimeoutS * 1000,
      snapshots: false, // each step's kernel is new and boots once: a snapshot would only cost
      suiteTimeoutMs: 1800_000,
      caseTimeoutMs: 180_000,
      refresh: false,
      expectations: o.expectations,
      log: o.log,
    };
    const t1 = Date.now();
    await runWith(run, { ...realHost(run, guestCode), prepare: async () => kernel }, new Recorder(results, folder, o.expectations));
    const runSeconds = seconds(t1);
    const rel = join('steps', folder.id);
    const k = results.kernels[0];
    if (k.error) return { cells: null, failure: `${k.error.phase}: ${k.error.message.split('\n')[0]}`, compiled, buildSeconds, runSeconds, run: rel };
    const named = k.cases.filter((c) => match(c.id));
    // A case that broke in the harness says nothing of the kernel: the step is skipped.
    const broken = named.find((c) => c.status === 'error');
    if (broken) return { cells: null, failure: `case error: ${broken.id}: ${broken.reason ?? ''}`, compiled, buildSeconds, runSeconds, run: rel };
    const cells: Cells = Object.fromEntries(named.map((c) => [c.id, cellValue(c)]));
    return { cells, failure: null, compiled, buildSeconds, runSeconds, run: rel };
  };
}
