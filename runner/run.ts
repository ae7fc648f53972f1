// A run: for each kernel, fetch it, build its image, boot it, run the suite families, collect
// their TAP. The pieces: the scheduler (which guest takes which kernel), the session (one
// guest's work, crash recovery included), the recorder (results as they come). This file
// holds the options, the real Host (Debian or a tree, QEMU, SSH) and the wiring.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InfraError } from '../common/errors.js';
import type { GuestFacts, Pools } from '../guest/protocol.js';
import { buildImage } from '../images/initramfs.js';
import { type Kernel, prepareKernel } from '../images/kernel.js';
import { scratchDisks } from '../images/scratch.js';
import { buildSelftests, fromTree, ownTree } from '../images/selftests.js';
import type { Expectations } from '../reports/expectations.js';
import type { Fingerprint } from '../reports/fingerprint.js';
import type { KernelResult, Results } from '../reports/results.js';
import type { RunFolder } from '../reports/runfolder.js';
import { type Family, isHostFamily } from '../suites/families.js';
import { selftestBinaries } from '../suites/kselftests.js';
import { type AccelChoice, accelPlan } from './accel.js';
import { guestBundle, suiteVersion } from './bundle.js';
import { Guest, type GuestOptions, guestConfig } from './guest.js';
import type { KernelProgress } from './progress.js';
import type { Accel, Snapshot } from './qemu.js';
import { Recorder } from './recorder.js';
import { type KernelJob, newJob, schedule } from './scheduler.js';
import { drive, type Host } from './session.js';
import { snapshotOf } from './snapshot.js';

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
  snapshots?: boolean; // restore guests from a cached snapshot of a booted one (runner/snapshot.ts); default on
  suiteTimeoutMs: number;
  caseTimeoutMs: number; // a case printing nothing this long is hung
  tests?: string[]; // the kselftest family: only these selftests (empty or absent: all)
  fromTree?: string | null; // the kselftest family: every kernel also runs this tree's selftests
  refresh: boolean;
  expectations: Expectations;
  log: (line: string) => void;
  progress?: (kernel: string) => KernelProgress; // a bar per kernel on a terminal
  onKernelDone?: (k: KernelResult) => void; // each kernel once all its suites ran (or it failed)
  familySize?: (f: Family) => number; // its cases: a kernel's guests take the largest first
}

const KVM_TRIAL_MS = 30_000;
// Under TCG clearing a 1 GiB page takes seconds (docs/figures.md), so a default run leaves
// the 1 GiB types out there; with KVM it is a fraction of a second.
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

async function bootWithFallback(kernel: Kernel, o: RunOptions, consoleLog: string): Promise<{ guest: Guest; accel: Accel }> {
  const image = await buildImage(kernel).catch((e: Error) => {
    throw new InfraError('image', e.message, undefined, { cause: e });
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
      const disks = await scratchDisks();
      const opts: GuestOptions = { accel, memoryMb: big.memoryMb, hugepages: o.hugepages, extraCmdline: big.cmdline, disks, bootTimeoutMs, consoleLog };
      let snapshot: Snapshot | undefined;
      if (o.snapshots !== false) {
        const t0 = Date.now();
        const s = await snapshotOf(guestConfig(kernel, image, opts), bootTimeoutMs);
        if (s.made) o.log(`${kernel.release}: snapshot of a booted guest made in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        snapshot = s.snapshot;
      }
      const g = await Guest.boot(kernel, image, { ...opts, snapshot });
      return { guest: g, accel };
    } catch (e) {
      last = e;
      if (plan.order.length > 1) o.log(`${kernel.release}: ${accel} boot failed (${(e as Error).message}); trying the next accelerator`);
    }
  }
  throw last;
}

/** Guests that fit at once: one per core, and as many as memory holds with 1 GiB to spare. */
export function autoJobs(cores: number, freeMb: number, guestMb: number): number {
  return Math.max(1, Math.min(cores, Math.floor((freeMb - 1024) / (guestMb + 256))));
}

/** The Host of a real run: Debian packages or a tree, QEMU, SSH. */
export function realHost(o: RunOptions, guestCode: { bundle: Buffer; version: string }): Host {
  return {
    prepare: async (spec) => {
      const kernel = await prepareKernel(spec, o.refresh, o.log);
      o.log(`${spec}: ${kernel.release} (${kernel.version}), ${kernel.pvh ? 'vmlinux via PVH' : 'bzImage'}`);
      return kernel;
    },
    boot: async (kernel, consoleLog) => {
      const b = await bootWithFallback(kernel, o, consoleLog);
      await b.guest.push(guestCode.bundle).catch(async (e) => {
        await b.guest.close();
        throw e;
      });
      return b;
    },
    fingerprint: (facts, kernel, accel, pools) => fingerprint(facts, kernel, accel, pools, guestCode.version),
    // The kernel's own tree's selftests, then --from-tree's (say the newest tests on an older
    // kernel) in rows of their own.
    selftests: async (kernel) => {
      const own = await ownTree(kernel.spec, o.refresh, o.log);
      const other = o.fromTree ? await fromTree(o.fromTree, o.refresh, o.log) : null;
      const trees = [...(own ? [{ tree: own, own: true }] : []), ...(other ? [{ tree: other, own: false }] : [])];
      const sets = [];
      for (const t of trees) {
        const build = await buildSelftests(t.tree, selftestBinaries(o.tests ?? []), o.log);
        // One tar stream of the binaries: an empty archive when none built.
        const tar = execFileSync('tar', ['-c', '-C', build.dir, ...(build.built.length ? build.built : ['--files-from', '/dev/null'])], { maxBuffer: 1 << 30 });
        sets.push({ build, own: t.own, tar });
      }
      return sets;
    },
  };
}

const kernelDone = (k: KernelResult, families: Family[]) => !k.error && families.every((f) => k.familiesDone?.includes(f));

/** The run: each kernel's entry made up front (results.json lists kernels in the order asked
 * for, whichever guest finishes first), then the scheduler's guests work through them. A resumed
 * run keeps what its kernels already have and runs only what is missing. */
export async function runWith(o: RunOptions, host: Host, rec: Recorder): Promise<void> {
  const results = rec.results;
  const entries = o.kernels.map((spec) => results.kernels.find((k) => k.spec === spec) ?? emptyResult(spec, o));
  results.kernels.splice(0, results.kernels.length, ...entries);
  const jobs = entries.flatMap((res, i) =>
    kernelDone(res, o.families) ? [] : [newJob(o.kernels[i], o.families, res, o.progress?.(o.kernels[i]), o.familySize)],
  );
  for (const job of jobs) if (job.res.error) job.res.error = null; // tried again
  const session = { ...o, onKernelDone: (job: KernelJob) => o.onKernelDone?.(job.res) };
  await schedule(jobs, o.jobs, (job) => drive(job, host, rec, session));
  results.finished = new Date().toISOString();
  results.complete = results.kernels.every((k) => !k.error && k.cases.every((c) => c.status !== 'error'));
  rec.save();
}

export async function run(o: RunOptions, folder: RunFolder, results: Results): Promise<void> {
  // What every guest gets, made once per run: the bundle and the hash the fingerprints carry.
  const guestCode = { bundle: guestBundle(), version: suiteVersion() };
  return runWith({ familySize: await familySizes(), ...o }, realHost(o, guestCode), new Recorder(results, folder, o.expectations));
}

/** A family's size for the taking order: its cases in a guest that has everything. The kernel's
 * own selftests (a host family, its cases unknown until built) run for tens of seconds: first. */
async function familySizes(): Promise<(f: Family) => number> {
  const { BUILDERS, FULL_ENV } = await import('../suites/catalog.js');
  const sizes = new Map(Object.entries(BUILDERS).map(([f, build]) => [f, build(FULL_ENV).length]));
  return (f) => (isHostFamily(f) ? Number.POSITIVE_INFINITY : (sizes.get(f) ?? 0));
}
