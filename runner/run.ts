// A run: for each kernel, fetch it, build its image, boot it, run the suite families,
// collect their TAP. Results are saved after every family, so nothing finished is lost.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildImage } from '../images/initramfs.js';
import { prepareKernel, type Kernel } from '../images/kernel.js';
import { scratchExt4 } from '../images/scratch.js';
import type { RunFolder } from '../reports/runfolder.js';
import type { Expectations } from '../reports/expectations.js';
import type { KernelResult, Results } from '../reports/results.js';
import type { Family } from '../suites/families.js';
import { accelPlan, type AccelChoice } from './accel.js';
import { guestBundle, GUEST_DIR } from './bundle.js';
import { InfraError } from './errors.js';
import { Guest, poolDrift } from './guest.js';
import { parseTap } from './tap.js';

export interface RunOptions {
  kernels: string[];
  families: Family[];
  cases: string[]; // case-id patterns; empty for all
  pool1g: number | 'auto'; // 1 GiB huge pages; auto: 2 under KVM, none under TCG
  accel: AccelChoice;
  hugepages: number;
  memoryMb: number;
  bootTimeoutMs: number;
  suiteTimeoutMs: number;
  refresh: boolean;
  expectations: Expectations;
  log: (line: string) => void;
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

/** A single-quoted shell word. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

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

async function runKernel(spec: string, o: RunOptions, folder: RunFolder, results: Results, bundle: Buffer): Promise<void> {
  const res = emptyResult(spec, o);
  results.kernels.push(res);
  let guest: Guest | null = null;
  try {
    const kernel = await prepareKernel(spec, o.refresh, o.log).catch((e: Error) => {
      throw e instanceof InfraError ? e : new InfraError('fetch', e.message);
    });
    Object.assign(res, { id: kernel.id, version: kernel.version, release: kernel.release });
    o.log(`${spec}: ${kernel.release} (${kernel.version}), ${kernel.pvh ? 'vmlinux via PVH' : 'bzImage'}`);
    const dir = folder.guestDir(kernel.id);
    guest = await bootWithFallback(kernel, o, res, join(dir, 'console.log'));
    res.bootSeconds = guest.bootSeconds;
    const facts = await guest.facts();
    Object.assign(res, { release: facts.release, hugePageKb: facts.hugePageKb, hugepagesObtained: facts.hugepagesObtained, gigantic: facts.gigantic, thp: facts.thp });
    o.log(`${facts.release}: SSH ready in ${guest.bootSeconds.toFixed(2)} s (banner at ${guest.bannerSeconds.toFixed(2)} s); huge pages ${facts.hugepagesObtained}/${o.hugepages} × ${facts.hugePageKb} kB, ${facts.gigantic} × 1 GiB; THP ${facts.thp}`);
    await guest.push(bundle);
    const baseline = await guest.pools();
    for (const family of o.families) {
      const t0 = Date.now();
      const r = await guest.exec(`cd ${GUEST_DIR} && node suites/main.js ${[family, ...o.cases].map(shellQuote).join(' ')}`, { timeoutMs: o.suiteTimeoutMs });
      writeFileSync(join(dir, `${family}.tap`), r.stdout);
      if (r.stderr) writeFileSync(join(dir, `${family}.stderr`), r.stderr);
      const parsed = parseTap(r.stdout);
      for (const c of parsed.cases) if (c.observation) c.verdict = o.expectations.judge(c.id, facts.release, c.observation.label);
      res.cases.push(...parsed.cases);
      if (parsed.problems.length) throw new InfraError('collect', `${family}: malformed TAP: ${parsed.problems.join('; ')}`, r.stderr.trim());
      const n = (s: string) => parsed.cases.filter((c) => c.status === s).length;
      const dev = parsed.cases.filter((c) => c.verdict?.status === 'deviation').length;
      // Every case must give back what it took: checked again here, from outside the suite.
      const drift = poolDrift(baseline, await guest.pools());
      if (drift.length) {
        (res.poolDrift ??= []).push({ after: family, drift });
        o.log(`${facts.release}: hugetlb pool not back at its baseline after ${family}: ${drift.join(', ')} (see the cases with poolBalanced false)`);
      }
      o.log(`${facts.release}: ${family}: ${parsed.cases.length} cases (${n('observed')} observed, ${n('skip')} skipped, ${n('error')} errors; ${dev} deviations) in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
      folder.save(results);
    }
  } catch (e) {
    if (!(e instanceof InfraError)) throw e;
    res.error = { phase: e.phase, message: e.message, ...(e.detail ? { detail: e.detail } : {}) };
    o.log(`${spec}: ${e.phase} failed: ${e.message}`);
    if (e.detail) o.log(e.detail.split('\n').map((l) => `  | ${l}`).join('\n'));
  } finally {
    await guest?.close();
    folder.save(results);
  }
}

export async function run(o: RunOptions, folder: RunFolder, results: Results): Promise<void> {
  const bundle = guestBundle();
  for (const spec of o.kernels) await runKernel(spec, o, folder, results, bundle);
  results.finished = new Date().toISOString();
  results.complete = results.kernels.every((k) => !k.error && k.cases.every((c) => c.status !== 'error'));
  folder.save(results);
}
