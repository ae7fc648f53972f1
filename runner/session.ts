// One guest working on a kernel: boot it, then run families from the kernel's queue until it
// is empty, booting a fresh guest after a case that took one down (runner/family.ts). The
// first guest also records the boot, the guest's facts and the fingerprint. What it needs of
// the world (preparing a kernel, booting a guest, the fingerprint) comes through a Host, so the
// unit tests can run the whole pipeline against fakes.
import { join } from 'node:path';
import { InfraError } from '../common/errors.js';
import type { GuestFacts, Pools } from '../guest/protocol.js';
import type { Kernel } from '../images/kernel.js';
import type { Fingerprint } from '../reports/fingerprint.js';
import type { CaseResult } from '../reports/results.js';
import type { Family } from '../suites/families.js';
import { type FamilyContext, type FamilyOutcome, runFamily } from './family.js';
import { type GuestHandle, poolDrift } from './guest.js';
import { rowPrefixOf, runSelftests, type SelftestContext, type SelftestSet } from './kselftest.js';
import type { Recorder } from './recorder.js';
import { endJob, type KernelJob, wantsHelp } from './scheduler.js';

export interface Host {
  /** Fetch and unpack a kernel named by spec. */
  prepare(spec: string): Promise<Kernel>;
  /** Build its image, boot a guest writing its console to `consoleLog`, push the guest code. */
  boot(kernel: Kernel, consoleLog: string): Promise<{ guest: GuestHandle; accel: string }>;
  fingerprint(facts: GuestFacts, kernel: Kernel, accel: string, pools: Pools): Promise<Fingerprint>;
  /** The kselftest family's binaries for a kernel: its own tree's (none for a bzImage), then
   * --from-tree's. */
  selftests?(kernel: Kernel): Promise<SelftestSet[]>;
}

export interface SessionOptions {
  families: Family[]; // the run's, in report order
  cases: string[]; // case-id patterns; empty for all
  hugepages: number;
  suiteTimeoutMs: number;
  caseTimeoutMs: number;
  tests?: string[]; // the kselftest family: only these tests (empty for all)
  log: (line: string) => void;
  onKernelDone?: (job: KernelJob) => void;
}

const consoleName = (boot: number) => (boot === 1 ? 'console.log' : `console.${boot}.log`);

export async function drive(job: KernelJob, host: Host, rec: Recorder, o: SessionOptions): Promise<void> {
  const res = job.res;
  const first = job.kernel === null;
  let guest: GuestHandle | null = null;
  let took = false; // whether this guest started a family
  job.guests += 1;
  try {
    if (!job.kernel) {
      job.bar?.phase('fetching');
      job.kernel = host.prepare(job.spec).then((k) => {
        Object.assign(res, { id: k.id, version: k.version, release: k.release });
        return k;
      });
    }
    const kernel = await job.kernel.catch((e: Error) => {
      throw e instanceof InfraError ? e : new InfraError('fetch', e.message, undefined, { cause: e });
    });
    if (!first && !wantsHelp(job)) return; // it changed while the kernel was prepared
    const dir = rec.guestDir(kernel.id);
    let consoleLog = '';
    const boot = async () => {
      consoleLog = join(dir, consoleName(++job.boots));
      const b = await host.boot(kernel, consoleLog);
      res.accel = b.accel;
      return b.guest;
    };
    // Started before the boot, so make runs while the guest boots; a kernel's guests share it.
    if (o.families.includes('kselftest') && job.queue.includes('kselftest')) job.selftests ??= selftestsOf(host, kernel);
    job.bar?.phase('image, boot');
    guest = await boot();
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
    if (first) res.fingerprint = await host.fingerprint(facts, kernel, res.accel ?? '', baseline);
    for (let family = job.queue.shift(); family && !res.error; family = job.queue.shift()) {
      took = true;
      const t0 = Date.now();
      // Resumed mid-family: the cases it already has are not run again. They came in the order
      // they finished, which after a crash is not the family's own (runner/family.ts), so a guest
      // family leaves out each of them; the kselftest family goes on after the last.
      const recorded = res.cases.filter((c) => c.family === family).map((c) => c.id);
      const after = recorded.at(-1) ?? null;
      const progress = () =>
        job.bar?.cases(
          job.finished,
          [...job.planned.values()].reduce((a, b) => a + b, 0),
        );
      job.running.add(family);
      job.bar?.phase([...job.running].join(' '));
      const current: GuestHandle = guest;
      const ctx: FamilyContext = {
        onPlan: (n: number) => {
          job.planned.set(family, n);
          progress();
        },
        guest: current,
        accel: res.accel ?? '',
        after,
        recorded,
        patterns: o.cases,
        caseTimeoutMs: o.caseTimeoutMs,
        suiteTimeoutMs: o.suiteTimeoutMs,
        consoleLog: () => consoleLog,
        reboot: async () => {
          await guest?.close();
          guest = await boot();
          return guest;
        },
        onCase: (c: CaseResult) => {
          rec.caseDone(job.spec, res, facts.release, c);
          job.finished += 1;
          progress();
        },
        log: (line: string) => o.log(`${facts.release}: ${line}`),
      };
      const outcome: FamilyOutcome =
        family === 'kselftest'
          ? await selftestFamily(await (job.selftests ?? selftestsOf(host, kernel)), {
              ...ctx,
              baselineHugepages: facts.hugepagesObtained,
              tests: o.tests ?? [],
            })
          : await runFamily(family, ctx);
      guest = outcome.guest;
      // Every case must give back what it took: checked again here, from outside the suite.
      const drift = poolDrift(baseline, await guest.pools());
      if (drift.length)
        o.log(`${facts.release}: hugetlb pool not back at its baseline after ${family}: ${drift.join(', ')} (see the cases with poolBalanced false)`);
      rec.familyDone(res, dir, family, outcome, drift);
      job.running.delete(family);
      o.log(`${facts.release}: ${family}: ${summary(outcome.cases)} in ${((Date.now() - t0) / 1000).toFixed(2)} s`);
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
    if (rec.kernelFailed(res, e)) {
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
    if (job.guests === 0 && (!job.queue.length || res.error) && endJob(job, o.families)) o.onKernelDone?.(job);
    rec.saveResults();
  }
}

async function selftestsOf(host: Host, kernel: Kernel): Promise<SelftestSet[] | Error> {
  if (!host.selftests) return new Error('this host cannot build selftests');
  return host.selftests(kernel).catch((e: Error) => e);
}

/** The kselftest family: each set of selftests in turn, in the same guest; or its one row saying
 * why it could not run: no tree, or no build. */
async function selftestFamily(sets: SelftestSet[] | Error, ctx: SelftestContext): Promise<FamilyOutcome> {
  if (!(sets instanceof Error) && sets.length) {
    const all: FamilyOutcome = { cases: [], tap: '', stderr: '', guest: ctx.guest };
    // Resumed: the sets before the one the last finished row belongs to are done.
    const from = Math.max(0, ctx.after ? sets.findIndex((s) => ctx.after?.startsWith(`${rowPrefixOf(s)}.`)) : 0);
    for (const [i, set] of sets.entries()) {
      if (i < from) continue;
      const o = await runSelftests(set, { ...ctx, guest: all.guest, after: i === from ? ctx.after : null });
      Object.assign(all, { cases: [...all.cases, ...o.cases], tap: all.tap + o.tap, stderr: all.stderr + o.stderr, guest: o.guest });
    }
    return all;
  }
  const reason =
    sets instanceof Error ? `the selftests did not build: ${sets.message}` : 'this kernel has no source tree to build its selftests from: pass --from-tree';
  const c: CaseResult = { id: 'kselftest.mm', family: 'kselftest', status: sets instanceof Error ? 'error' : 'skip', reason };
  ctx.onCase(c);
  return { cases: [c], tap: '', stderr: '', guest: ctx.guest };
}

/** "84 cases (60 observed, 24 skipped, 0 errors; 0 deviations)", crashes and timeouts when any. */
function summary(done: CaseResult[]): string {
  const n = (s: string) => done.filter((c) => c.status === s).length;
  const dev = done.filter((c) => c.verdict?.status === 'deviation').length;
  const fails = done.filter((c) => c.selftest?.result === 'FAIL').length;
  const broke = n('crash') + n('timeout') ? `, ${n('crash')} crashed, ${n('timeout')} timed out` : '';
  return `${done.length} cases (${n('observed')} observed, ${n('skip')} skipped, ${n('error')} errors${broke}; ${dev} deviations${fails ? `, ${fails} selftest FAIL` : ''})`;
}
