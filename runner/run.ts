// A run: for each kernel, fetch it, build its image, boot it, run the suite families,
// collect their TAP. Results are saved after every family, so nothing finished is lost.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../images/initramfs.js';
import { prepareKernel, type Kernel } from '../images/kernel.js';
import { scratchExt4 } from '../images/scratch.js';
import type { RunFolder } from '../reports/runfolder.js';
import type { Expectations } from '../reports/expectations.js';
import type { Fingerprint } from '../reports/fingerprint.js';
import type { KernelResult, Results } from '../reports/results.js';
import type { Family } from '../suites/families.js';
import { accelPlan, type AccelChoice } from './accel.js';
import { guestBundle, suiteVersion } from './bundle.js';
import { InfraError } from './errors.js';
import { Guest, poolDrift, type Pools } from './guest.js';
import { runFamily } from './family.js';
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

async function fingerprint(g: Guest, k: Kernel, accel: string, release: string, obtained: Pools, suite: string): Promise<Fingerprint> {
  qemuVersion ??= new Promise((resolve) =>
    execFile('qemu-system-x86_64', ['--version'], (err, out) => resolve(err ? 'unknown' : (/version (\S+)/.exec(out)?.[1] ?? 'unknown'))),
  );
  const r = await g.exec("cat /proc/cmdline; awk '/^KernelPageSize/ {print $2; exit}' /proc/self/smaps");
  const [cmdline, pageKb] = r.stdout.trim().split('\n');
  const pools = Object.fromEntries(Object.entries(obtained).map(([size, p]) => [size, p.free]));
  return {
    release, kernelId: k.id, configHash: configHash(k), cmdline: cmdline ?? '', pools,
    pageSize: Number(pageKb) * 1024 || 4096, accel, qemu: await qemuVersion, node: process.version, suiteVersion: suite,
  };
}


function emptyResult(spec: string, o: RunOptions): KernelResult {
  return {
    spec, id: spec, version: '', release: null, accel: null, bootSeconds: null, hugePageKb: null,
    hugepagesRequested: o.hugepages, hugepagesObtained: null, thp: null, error: null, cases: [],
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
      const g = await Guest.boot(kernel, image, { accel, memoryMb: big.memoryMb, hugepages: o.hugepages, extraCmdline: big.cmdline, disks, bootTimeoutMs, consoleLog });
      res.accel = accel;
      return g;
    } catch (e) {
      last = e;
      if (plan.order.length > 1) o.log(`${kernel.release}: ${accel} boot failed (${(e as Error).message}); trying the next accelerator`);
    }
  }
  throw last;
}

async function runKernel(spec: string, o: RunOptions, folder: RunFolder, results: Results, res: KernelResult, guestCode: { bundle: Buffer; version: string }): Promise<void> {
  const { bundle } = guestCode;
  let guest: Guest | null = null;
  const bar = o.progress?.(spec);
  try {
    bar?.phase('fetching');
    const kernel = await prepareKernel(spec, o.refresh, o.log).catch((e: Error) => {
      throw e instanceof InfraError ? e : new InfraError('fetch', e.message);
    });
    Object.assign(res, { id: kernel.id, version: kernel.version, release: kernel.release });
    o.log(`${spec}: ${kernel.release} (${kernel.version}), ${kernel.pvh ? 'vmlinux via PVH' : 'bzImage'}`);
    const dir = folder.guestDir(kernel.id);
    bar?.phase('image, boot');
    guest = await bootWithFallback(kernel, o, res, join(dir, 'console.log'));
    res.bootSeconds = guest.bootSeconds;
    const facts = await guest.facts();
    Object.assign(res, { release: facts.release, hugePageKb: facts.hugePageKb, hugepagesObtained: facts.hugepagesObtained, gigantic: facts.gigantic, thp: facts.thp });
    o.log(`${facts.release}: SSH ready in ${guest.bootSeconds.toFixed(2)} s (banner at ${guest.bannerSeconds.toFixed(2)} s); huge pages ${facts.hugepagesObtained}/${o.hugepages} × ${facts.hugePageKb} kB, ${facts.gigantic} × 1 GiB; THP ${facts.thp}`);
    await guest.push(bundle);
    const baseline = await guest.pools();
    res.fingerprint = await fingerprint(guest, kernel, res.accel ?? '', facts.release, baseline, guestCode.version);
    let boots = 1;
    for (const family of o.families) {
      if (res.familiesDone?.includes(family)) continue; // resumed: this one finished before
      const t0 = Date.now();
      // Resumed mid-family: go on after the last case that finished.
      const after = res.cases.filter((c) => c.family === family).at(-1)?.id ?? null;
      let total = 0;
      let finished = 0;
      bar?.phase(family);
      const outcome = await runFamily(family, {
        onPlan: (n) => {
          total = n;
          bar?.cases(finished, total);
        },
        guest,
        after,
        patterns: o.cases,
        caseTimeoutMs: o.caseTimeoutMs,
        suiteTimeoutMs: o.suiteTimeoutMs,
        consoleLog: () => join(dir, boots === 1 ? 'console.log' : `console.${boots}.log`),
        reboot: async () => {
          await guest!.close();
          boots += 1;
          guest = await bootWithFallback(kernel, o, res, join(dir, `console.${boots}.log`));
          await guest.push(bundle);
          return guest;
        },
        onCase: (c) => {
          if (c.observation) c.verdict = o.expectations.judge(c.id, facts.release, c.observation.label);
          res.cases.push(c);
          folder.appendCase(spec, c);
          bar?.cases(++finished, total);
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
        (res.poolDrift ??= []).push({ after: family, drift });
        o.log(`${facts.release}: hugetlb pool not back at its baseline after ${family}: ${drift.join(', ')} (see the cases with poolBalanced false)`);
      }
      const broke = n('crash') + n('timeout') ? `, ${n('crash')} crashed, ${n('timeout')} timed out` : '';
      (res.familiesDone ??= []).push(family);
      o.log(`${facts.release}: ${family}: ${done.length} cases (${n('observed')} observed, ${n('skip')} skipped, ${n('error')} errors${broke}; ${dev} deviations) in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
      folder.save(results);
    }
    bar?.done('done');
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    bar?.done(`${e.phase} failed`);
    res.error = { phase: e.phase, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
    o.log(`${spec}: ${e.phase} failed: ${e.message}`);
    if (e.detail) o.log(e.detail.split('\n').map((l) => `  | ${l}`).join('\n'));
  } finally {
    await guest?.close();
    folder.save(results);
  }
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
  const todo = entries.map((k, i) => i).filter((i) => !kernelDone(entries[i], o.families));
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const i = todo[next++];
      if (entries[i].error) entries[i].error = null; // tried again
      await runKernel(o.kernels[i], o, folder, results, entries[i], guestCode);
      o.onKernelDone?.(entries[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.jobs, todo.length) }, worker));
  results.finished = new Date().toISOString();
  results.complete = results.kernels.every((k) => !k.error && k.cases.every((c) => c.status !== 'error'));
  folder.save(results);
}
