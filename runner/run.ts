// A run: for each kernel, fetch it, build its image, boot it, run the suite families,
// collect their TAP. Results are saved after every family, so nothing finished is lost.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../common/errors.js';
import type { GuestFacts, Pools } from '../guest/protocol.js';
import { buildImage } from '../images/initramfs.js';
import { type Kernel, prepareKernel } from '../images/kernel.js';
import { scratchExt4 } from '../images/scratch.js';
import type { Expectations } from '../reports/expectations.js';
import type { Fingerprint } from '../reports/fingerprint.js';
import type { CaseResult, KernelResult, Results } from '../reports/results.js';
import type { RunFolder } from '../reports/runfolder.js';
import type { Family } from '../suites/families.js';
import { type AccelChoice, accelPlan } from './accel.js';
import { guestBundle, suiteVersion } from './bundle.js';
import { runFamily } from './family.js';
import { Guest, poolDrift } from './guest.js';
import type { KernelProgress } from './progress.js';

export interface RunOptions {
  kernels: string[];
  families: Family[];
  cases: string[]; // case-id patterns; empty for all
  pool1g: number | 'auto'; // 1 GiB huge pages; auto: 2 under KVM, none under TCG
  jobs: number; // guests at once
  accel: AccelChoice;
  hugepages: number;
  memoryMb: number;
  bootTimeoutMs: number;
  suiteTimeoutMs: number;
  caseTimeoutMs: number; // a case printing nothing this long is hung
  refresh: boolean;
  expectations: Expectations;
  log: (line: string) => void;
  progress?: (kernel: string) => KernelProgress; // a bar per kernel on a terminal
  onKernelDone?: (k: KernelResult) => void; // each kernel once all its suites ran (or it failed)
}

const KVM_TRIAL_MS = 30_000;
// Under TCG the kernel clears a 1 GiB page in ~8 s (measured on 6.1), so a default run
// leaves the 1 GiB types out there; with KVM it is a fraction of a second.
const AUTO_POOL_1G = { kvm: 2, tcg: 0 } as const;

/** One 1 GiB page needs a 1 GiB-aligned free gigabyte: below 4 GiB the PCI hole and the
 * initramfs take those, so the guest gets the pool on top of 3 GiB. */
export function gigantic(pool: number, memoryMb: number): { memoryMb: number; cmdline: string } {
  if (pool <= 0) return { memoryMb, cmdline: '' };
  return { memoryMb: Math.max(memoryMb, 3072) + 1024 * pool, cmdline: `hugepagesz=1G hugepages=${pool}` };
}

/** sha256 of the kernel's .config, where the build ships one. */
function configHash(k: Kernel): string | null {
  return k.config ? createHash('sha256').update(readFileSync(k.config)).digest('hex').slice(0, 16) : null;
}

let qemuVersion: Promise<string> | null = null;

async function fingerprint(facts: GuestFacts, k: Kernel, accel: string, obtained: Pools, suite: string): Promise<Fingerprint> {
  qemuVersion ??= new Promise((resolve) =>
    execFile('qemu-system-x86_64', ['--version'], (err, out) => resolve(err ? 'unknown' : (/version (\S+)/.exec(out)?.[1] ?? 'unknown'))),
  );
  const pools = Object.fromEntries(Object.entries(obtained).map(([size, p]) => [size, p.free]));
  return {
    release: facts.release,
    kernelId: k.id,
    configHash: configHash(k),
    cmdline: facts.cmdline,
    pools,
    pageSize: facts.pageSize,
    accel,
    qemu: await qemuVersion,
    node: process.version,
    suiteVersion: suite,
  };
}

function emptyResult(spec: string, o: RunOptions): KernelResult {
  return {
    spec,
    id: spec,
    version: '',
    release: null,
    accel: null,
    bootSeconds: null,
    hugePageKb: null,
    hugepagesRequested: o.hugepages,
    hugepagesObtained: null,
    thp: null,
    error: null,
    cases: [],
  };
}

async function bootWithFallback(kernel: Kernel, o: RunOptions, res: KernelResult, consoleLog: string): Promise<Guest> {
  const image = await buildImage(kernel).catch((e: Error) => {
    throw new InfraError('image', e.message);
  });
  o.log(`${kernel.release}: image ${image.built ? 'built' : 'cached'} (${image.dir})`);
  const plan = accelPlan(o.accel);
  let last: unknown;
  for (const [i, accel] of plan.order.entries()) {
    o.log(`${kernel.release}: booting under ${accel.toUpperCase()} — ${plan.why}`);
    // A KVM guest boots in about a second; where KVM is broken (nested) it hangs: try it briefly.
    const bootTimeoutMs = i < plan.order.length - 1 ? Math.min(o.bootTimeoutMs, KVM_TRIAL_MS) : o.bootTimeoutMs;
    try {
      const pool1g = o.pool1g === 'auto' ? AUTO_POOL_1G[accel] : o.pool1g;
      const big = gigantic(pool1g, o.memoryMb);
      const disks = [{ file: await scratchExt4(), mode: 'scratch' as const }];
      const g = await Guest.boot(kernel, image, {
        accel,
        memoryMb: big.memoryMb,
        hugepages: o.hugepages,
        extraCmdline: big.cmdline,
        disks,
        bootTimeoutMs,
        consoleLog,
      });
      res.accel = accel;
      return g;
    } catch (e) {
      last = e;
      if (plan.order.length > 1) o.log(`${kernel.release}: ${accel} boot failed (${(e as Error).message}); trying the next accelerator`);
    }
  }
  throw last;
}

/** One kernel of the run: prepared once, its families handed out to every guest that works
 * on it. A kernel gets a second guest when a worker has no kernel of its own left to take:
 * under TCG a guest keeps one core busy, so a run with fewer kernels than cores would leave a
 * core idle. Each family runs whole in one guest; a guest's families run in its one node process. */
interface KernelJob {
  spec: string;
  res: KernelResult;
  kernel: Promise<Kernel> | null; // prepared by the first guest's worker
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

function newJob(spec: string, o: RunOptions, res: KernelResult): KernelJob {
  // Resumed: the families that finished before are not run again.
  const queue = o.families.filter((f) => !res.familiesDone?.includes(f));
  return {
    spec,
    res,
    kernel: null,
    queue,
    boots: 0,
    guests: 0,
    running: new Set(),
    planned: new Map(),
    finished: 0,
    ended: false,
    helperFailed: false,
    bar: o.progress?.(spec),
  };
}

async function prepare(job: KernelJob, o: RunOptions): Promise<Kernel> {
  job.bar?.phase('fetching');
  const kernel = await prepareKernel(job.spec, o.refresh, o.log).catch((e: Error) => {
    throw e instanceof InfraError ? e : new InfraError('fetch', e.message);
  });
  Object.assign(job.res, { id: kernel.id, version: kernel.version, release: kernel.release });
  o.log(`${job.spec}: ${kernel.release} (${kernel.version}), ${kernel.pvh ? 'vmlinux via PVH' : 'bzImage'}`);
  return kernel;
}

/** Whether another guest would find a family to take once booted: the guest already on the
 * kernel takes the next family while the other boots, so it takes two waiting. With one left,
 * the other guest's boot (4-5 s under TCG) outlasted the family it came for, and the run waited
 * for it. */
const wantsHelp = (job: KernelJob) => !job.res.error && !job.helperFailed && job.queue.length >= 2;

const consoleName = (boot: number) => (boot === 1 ? 'console.log' : `console.${boot}.log`);

/** One guest working on a kernel: boot it, then run families from the kernel's queue until it
 * is empty. The first guest also records the boot, the guest's facts and the fingerprint. */
async function drive(job: KernelJob, o: RunOptions, folder: RunFolder, results: Results, guestCode: { bundle: Buffer; version: string }): Promise<void> {
  const { bundle } = guestCode;
  const res = job.res;
  const first = job.kernel === null;
  let guest: Guest | null = null;
  let took = false; // whether this guest started a family
  job.guests += 1;
  try {
    job.kernel ??= prepare(job, o);
    const kernel = await job.kernel;
    if (!first && !wantsHelp(job)) return; // it changed while the kernel was prepared
    const dir = folder.guestDir(kernel.id);
    const boot = async () => {
      const n = ++job.boots;
      const g = await bootWithFallback(kernel, o, res, join(dir, consoleName(n)));
      await g.push(bundle);
      return { g, console: join(dir, consoleName(n)) };
    };
    job.bar?.phase('image, boot');
    let booted = await boot();
    guest = booted.g;
    const facts = await guest.facts();
    if (first) {
      res.bootSeconds = guest.bootSeconds;
      Object.assign(res, {
        release: facts.release,
        hugePageKb: facts.hugePageKb,
        hugepagesObtained: facts.hugepagesObtained,
        gigantic: facts.gigantic,
        thp: facts.thp,
      });
    }
    o.log(
      `${facts.release}: ${first ? '' : 'another guest: '}SSH ready in ${guest.bootSeconds.toFixed(2)} s (banner at ${guest.bannerSeconds.toFixed(2)} s); huge pages ${facts.hugepagesObtained}/${o.hugepages} × ${facts.hugePageKb} kB, ${facts.gigantic} × 1 GiB; THP ${facts.thp}`,
    );
    const baseline = await guest.pools();
    if (first) res.fingerprint = await fingerprint(facts, kernel, res.accel ?? '', baseline, guestCode.version);
    for (let family = job.queue.shift(); family && !res.error; family = job.queue.shift()) {
      took = true;
      const t0 = Date.now();
      // Resumed mid-family: go on after the last case that finished.
      const after = res.cases.filter((c) => c.family === family).at(-1)?.id ?? null;
      const progress = () =>
        job.bar?.cases(
          job.finished,
          [...job.planned.values()].reduce((a, b) => a + b, 0),
        );
      job.running.add(family);
      job.bar?.phase([...job.running].join(' '));
      const outcome = await runFamily(family, {
        onPlan: (n) => {
          job.planned.set(family, n);
          progress();
        },
        guest,
        after,
        patterns: o.cases,
        caseTimeoutMs: o.caseTimeoutMs,
        suiteTimeoutMs: o.suiteTimeoutMs,
        consoleLog: () => booted.console,
        reboot: async () => {
          await guest!.close();
          booted = await boot();
          guest = booted.g;
          return guest;
        },
        onCase: (c) => {
          if (c.observation) c.verdict = o.expectations.judge(c.id, facts.release, c.observation.label);
          res.cases.push(c);
          folder.appendCase(job.spec, c);
          job.finished += 1;
          progress();
        },
        log: (line) => o.log(`${facts.release}: ${line}`),
      });
      guest = outcome.guest;
      writeFileSync(join(dir, `${family}.tap`), outcome.tap);
      if (outcome.stderr) writeFileSync(join(dir, `${family}.stderr`), outcome.stderr);
      const done = outcome.cases;
      const n = (s: string) => done.filter((c) => c.status === s).length;
      const dev = done.filter((c) => c.verdict?.status === 'deviation').length;
      // Every case must give back what it took: checked again here, from outside the suite.
      const drift = poolDrift(baseline, await guest.pools());
      if (drift.length) {
        res.poolDrift = [...(res.poolDrift ?? []), { after: family, drift }];
        o.log(`${facts.release}: hugetlb pool not back at its baseline after ${family}: ${drift.join(', ')} (see the cases with poolBalanced false)`);
      }
      const broke = n('crash') + n('timeout') ? `, ${n('crash')} crashed, ${n('timeout')} timed out` : '';
      res.familiesDone = [...(res.familiesDone ?? []), family];
      job.running.delete(family);
      o.log(
        `${facts.release}: ${family}: ${done.length} cases (${n('observed')} observed, ${n('skip')} skipped, ${n('error')} errors${broke}; ${dev} deviations) in ${((Date.now() - t0) / 1000).toFixed(2)} s`,
      );
      folder.save(results);
    }
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    if (!first && !took) {
      // A helper that never got going: the first guest still runs every family.
      job.helperFailed = true;
      o.log(`${job.spec}: another guest failed (${e.phase}: ${e.message}); the first goes on alone`);
      return;
    }
    job.queue.length = 0; // the other guest stops after its family
    if (!res.error) {
      res.error = { phase: e.phase, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
      o.log(`${job.spec}: ${e.phase} failed: ${e.message}`);
      if (e.detail)
        o.log(
          e.detail
            .split('\n')
            .map((l) => `  | ${l}`)
            .join('\n'),
        );
    }
  } finally {
    await guest?.close();
    job.guests -= 1;
    if (job.guests === 0 && (!job.queue.length || res.error)) end(job, o);
    folder.save(results);
  }
}

/** The kernel is done once no guest works on it: its cases go in family order (two guests
 * finish them interleaved), and it is reported. */
function end(job: KernelJob, o: RunOptions): void {
  if (job.ended) return;
  job.ended = true;
  const order = (c: CaseResult) => o.families.indexOf(c.family as Family);
  job.res.cases.sort((a, b) => order(a) - order(b));
  job.bar?.done(job.res.error ? `${job.res.error.phase} failed` : 'done');
  o.onKernelDone?.(job.res);
}

const kernelDone = (k: KernelResult, families: Family[]) => !k.error && families.every((f) => k.familiesDone?.includes(f));

/** Guests that fit at once: one per core, and as many as memory holds with 1 GiB to spare. */
export function autoJobs(cores: number, freeMb: number, guestMb: number): number {
  return Math.max(1, Math.min(cores, Math.floor((freeMb - 1024) / (guestMb + 256))));
}

export async function run(o: RunOptions, folder: RunFolder, results: Results): Promise<void> {
  // What every guest gets, made once per run: the bundle and the hash the fingerprints carry.
  const guestCode = { bundle: guestBundle(), version: suiteVersion() };
  // Each kernel's entry is made up front, so results.json lists kernels in the order asked for
  // whichever guest finishes first.
  // A resumed run keeps what its kernels already have and runs only what is missing.
  const entries = o.kernels.map((spec) => results.kernels.find((k) => k.spec === spec) ?? emptyResult(spec, o));
  results.kernels.splice(0, results.kernels.length, ...entries);
  const jobs = entries.flatMap((res, i) => (kernelDone(res, o.families) ? [] : [newJob(o.kernels[i], o, res)]));
  for (const job of jobs) if (job.res.error) job.res.error = null; // tried again
  let next = 0;
  // A worker drives its own kernels one after another; with none left to take, it helps the
  // kernel with the most families still waiting, in a guest of its own.
  const worker = async () => {
    for (;;) {
      const job = next < jobs.length ? jobs[next++] : jobs.filter((j) => j.kernel && wantsHelp(j)).sort((a, b) => b.queue.length - a.queue.length)[0];
      if (!job) return;
      await drive(job, o, folder, results, guestCode);
    }
  };
  await Promise.all(Array.from({ length: o.jobs }, worker));
  results.finished = new Date().toISOString();
  results.complete = results.kernels.every((k) => !k.error && k.cases.every((c) => c.status !== 'error'));
  folder.save(results);
}
