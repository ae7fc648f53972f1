#!/usr/bin/env node
// mmatrix command line.
import { Command, InvalidArgumentError, Option } from 'commander';
import { relative } from 'node:path';
import { InputError } from '../images/apt.js';
import { checkKernelSpec, parseKernelSpec } from '../images/kernel.js';
import { Expectations } from '../reports/expectations.js';
import { RunFolder, newRunId } from '../reports/runfolder.js';
import { poolLeaks, RESULTS_SCHEMA, verdictCounts, type Results } from '../reports/results.js';
import { FAMILIES, isFamily, type Family } from '../suites/families.js';
import type { AccelChoice } from './accel.js';
import { killAll } from './procs.js';
import { GUEST_DEFAULTS } from './qemu.js';
import { run } from './run.js';
import { bench, benchMarkdown } from './bench.js';

export const DEFAULT_KERNELS = ['debian:bullseye', 'debian:bookworm', 'debian:trixie'];

const EXIT = { ok: 0, deviation: 1, incomplete: 2, sigint: 130, sigterm: 143 } as const;

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

function family(v: string, prev: Family[] = []): Family[] {
  if (!isFamily(v)) throw new InvalidArgumentError(`unknown suite '${v}' (known: ${FAMILIES.join(', ')})`);
  return [...prev, v];
}

function poolSize(v: string): number | 'auto' {
  return v === 'auto' ? 'auto' : positiveInt(v);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

// A reader that goes away (`mmatrix run | head`) must not end the run: results still land on disk.
process.stdout.on('error', () => undefined);

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

interface RunFlags {
  kernel?: string[];
  suite?: Family[];
  case?: string[];
  pool1g: number | 'auto';
  accel: AccelChoice;
  hugepages: number;
  memory: number;
  bootTimeout: number;
  suiteTimeout: number;
  runsDir: string;
  refresh: boolean;
  expectations?: string;
}

async function runCommand(f: RunFlags): Promise<number> {
  const kernels = f.kernel ?? DEFAULT_KERNELS;
  for (const k of kernels) checkKernelSpec(parseKernelSpec(k)); // bad input fails before anything starts
  const expectations = Expectations.load(f.expectations);
  const folder = new RunFolder(f.runsDir, newRunId());
  const id = folder.id;
  const results: Results = { schema: RESULTS_SCHEMA, runId: id, started: new Date().toISOString(), finished: null, complete: false, kernels: [] };
  const stop = (sig: NodeJS.Signals, code: number) => () => {
    const killed = killAll();
    results.complete = false;
    folder.save(results);
    log(`\n${sig}: stopped ${killed} guest(s); partial results in ${relative(process.cwd(), folder.dir)}`);
    process.exit(code);
  };
  process.once('SIGINT', stop('SIGINT', EXIT.sigint));
  process.once('SIGTERM', stop('SIGTERM', EXIT.sigterm));
  log(`mmatrix run ${id}: ${kernels.join(', ')}`);
  await run(
    {
      kernels,
      families: f.suite ?? [...FAMILIES],
      cases: f.case ?? [],
      pool1g: f.pool1g,
      accel: f.accel,
      hugepages: f.hugepages,
      memoryMb: f.memory,
      bootTimeoutMs: f.bootTimeout * 1000,
      suiteTimeoutMs: f.suiteTimeout * 1000,
      refresh: f.refresh,
      expectations,
      log,
    },
    folder,
    results,
  );
  const rel = relative(process.cwd(), folder.dir);
  log(`report: ${rel}/matrix.md`);
  log(`results: ${rel}/results.json`);
  if (!results.complete) return EXIT.incomplete;
  const deviations = results.kernels.reduce((n, k) => n + verdictCounts(k).deviation, 0);
  const leaks = results.kernels.reduce((n, k) => n + poolLeaks(k).length + (k.poolDrift?.length ?? 0), 0);
  if (deviations) log(`${deviations} deviation(s) from the expectation table`);
  if (leaks) log(`${leaks} hugetlb pool leak(s): see matrix.md`);
  return deviations || leaks ? EXIT.deviation : EXIT.ok;
}

export function program(): Command {
  const p = new Command('mmatrix')
    .description('Linux memory-management semantics across kernels, observed in real QEMU guests')
    .showSuggestionAfterError(true)
    .exitOverride();
  p.command('run')
    .description('boot each kernel, run the suites, write a run folder with results.json and matrix.md')
    .option('-k, --kernel <spec>', 'debian:<suite> or bzimage:<path>[,modules=<dir>]; repeatable', collect)
    .option('-s, --suite <family>', `suite family to run (${FAMILIES.join(', ')}); repeatable`, family)
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('-c, --case <pattern>', "only cases whose id matches (* and {a,b}), e.g. 'madv_dontneed*.hugetlbfs-*'; repeatable", collect)
    .option('--hugepages <n>', 'default-size huge pages the guest reserves', positiveInt, GUEST_DEFAULTS.hugepages)
    .option('--pool-1g <n>', '1 GiB huge pages the guest reserves (auto: 2 under KVM, 0 under TCG)', poolSize, 'auto')
    .option('--memory <mb>', 'guest memory in MiB', positiveInt, GUEST_DEFAULTS.memoryMb)
    .option('--boot-timeout <s>', 'seconds to wait for SSH', positiveInt, GUEST_DEFAULTS.bootTimeoutS)
    .option('--suite-timeout <s>', 'seconds one suite family may take', positiveInt, 600)
    .option('--runs-dir <dir>', 'where run folders go', 'runs')
    .option('--refresh', 'fetch fresh package lists for Debian suites', false)
    .option('--expectations <file>', 'expectation table to judge against (default: suites/expectations.json)')
    .addHelpText('after', `\nExamples:\n  mmatrix run\n  mmatrix run -k debian:bookworm -k debian:trixie\n  mmatrix run -k bzimage:arch/x86/boot/bzImage,modules=/lib/modules/6.12.0`)
    .action(async (f: RunFlags) => {
      process.exitCode = await runCommand(f);
    });
  p.command('bench')
    .description('measure boot-to-/init (busybox only) against boot-to-SSH-ready, interleaved; medians and ratios')
    .option('-k, --kernel <spec>', 'kernel to measure; repeatable', collect)
    .option('-n, --repeat <n>', 'boots of each kind per kernel', positiveInt, 5)
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--runs-dir <dir>', 'where the bench folder goes', 'runs')
    .addHelpText('after', `\nExample:\n  mmatrix bench -k debian:bookworm -n 7`)
    .action(async (f: { kernel?: string[]; repeat: number; accel: AccelChoice; runsDir: string }) => {
      const kernels = f.kernel ?? DEFAULT_KERNELS;
      for (const k of kernels) checkKernelSpec(parseKernelSpec(k));
      const folder = new RunFolder(f.runsDir, `bench-${newRunId()}`);
      const rows = await bench(kernels, Math.max(1, f.repeat), f.accel, folder.dir, log);
      log('\n' + benchMarkdown(rows, f.repeat));
      log(`written: ${relative(process.cwd(), folder.dir)}/bench.json, bench.md`);
    });
  return p;
}

async function main(): Promise<void> {
  try {
    await program().parseAsync(process.argv);
  } catch (e) {
    const err = e as { code?: string; exitCode?: number; message?: string };
    if (err.code?.startsWith('commander.')) {
      process.exitCode = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : EXIT.incomplete;
      return;
    }
    if (e instanceof InputError) {
      process.stderr.write(`mmatrix: ${err.message}\n`);
      process.exitCode = EXIT.incomplete;
      return;
    }
    throw e;
  }
}

await main();
