// Which guest works on which kernel. Each worker (one per `--jobs`) drives its own kernels one
// after another; with none left to take, it helps the kernel with the most families still
// waiting, in a guest of its own: under TCG a guest keeps one core busy, so a run with fewer
// kernels than cores would leave a core idle. Each family runs whole in one guest, the largest
// first.
import type { Kernel } from '../images/kernel.js';
import type { KernelResult } from '../reports/results.js';
import type { Family } from '../suites/families.js';
import type { SelftestSet } from './kselftest.js';
import type { KernelProgress } from './progress.js';

/** One kernel of the run: prepared once, its families handed out to every guest that works on it. */
export interface KernelJob {
  spec: string;
  res: KernelResult;
  kernel: Promise<Kernel> | null; // prepared by the first guest's worker
  selftests?: Promise<SelftestSet[] | Error>; // the kselftest family's build, made once per kernel
  queue: Family[]; // families no guest has started
  boots: number; // guests booted for it so far: names their console files
  guests: number; // guests working on it now
  running: Set<Family>; // families its guests run now
  planned: Map<Family, number>; // cases each started family is about to run
  finished: number;
  ended: boolean;
  helperFailed: boolean; // a second guest failed to get going: no more are tried
  bar?: KernelProgress;
}

/** The order a kernel's guests take its families in: the largest first (`size`: its cases), so
 * that the guests finish about together instead of one running the last long family while the
 * other has nothing left (longest processing time first). Ties keep report order. */
export function takingOrder(families: Family[], size: (f: Family) => number): Family[] {
  return families
    .map((f, i) => ({ f, i, n: size(f) }))
    .sort((a, b) => b.n - a.n || a.i - b.i)
    .map((x) => x.f);
}

export function newJob(spec: string, families: Family[], res: KernelResult, bar?: KernelProgress, size: (f: Family) => number = () => 0): KernelJob {
  // Resumed: the families that finished before are not run again.
  const queue = takingOrder(
    families.filter((f) => !res.familiesDone?.includes(f)),
    size,
  );
  return { spec, res, kernel: null, queue, boots: 0, guests: 0, running: new Set(), planned: new Map(), finished: 0, ended: false, helperFailed: false, bar };
}

/** Whether another guest would find a family to take once booted: the guest already on the
 * kernel takes the next family while the other boots, so it takes two waiting. With one left,
 * the other guest's boot (seconds under TCG) outlasted the family it came for, and the run waited
 * for it. */
export const wantsHelp = (job: KernelJob): boolean => !job.res.error && !job.helperFailed && job.queue.length >= 2;

/** Run `drive` over the jobs with `workers` guests at once; resolves when every worker is out of work. */
export async function schedule(jobs: KernelJob[], workers: number, drive: (job: KernelJob) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const job = next < jobs.length ? jobs[next++] : jobs.filter((j) => j.kernel && wantsHelp(j)).sort((a, b) => b.queue.length - a.queue.length)[0];
      if (!job) return;
      await drive(job);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

/** The kernel is done once no guest works on it: its cases go in family order (two guests
 * finish them interleaved). Returns false when it was already ended. */
export function endJob(job: KernelJob, families: Family[]): boolean {
  if (job.ended) return false;
  job.ended = true;
  const order = (c: { family?: string }) => families.indexOf(c.family as Family);
  job.res.cases.sort((a, b) => order(a) - order(b));
  job.bar?.done(job.res.error ? `${job.res.error.phase} failed` : 'done');
  return true;
}
