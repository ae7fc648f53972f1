#!/usr/bin/env node
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { availableParallelism, freemem, totalmem } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
// mmatrix command line.
import { Command, InvalidArgumentError, Option } from 'commander';
import { cachePath, hashOf } from '../common/cache.js';
import { InfraError, InputError } from '../common/errors.js';
import { userPath } from '../common/paths.js';
import { killAll } from '../common/procs.js';
import { buildImage } from '../images/initramfs.js';
import { checkKernelSpec, parseKernelSpec, prepareKernel } from '../images/kernel.js';
import { patchFiles } from '../images/srcbuild.js';
import { renderBisect } from '../reports/bisect.js';
import { loadCoverage } from '../reports/coverage.js';
import { gate, loadAllowlist } from '../reports/diff.js';
import { Expectations } from '../reports/expectations.js';
import { guide, renderGuide } from '../reports/guide.js';
import { loadResults, mergeResults, parseShard, runDir, shardOf, withJournal } from '../reports/merge.js';
import { runExit } from '../reports/outcome.js';
import { brokenCases, deviationLines, poolLeaks, RESULTS_SCHEMA, type Results, verdictCounts } from '../reports/results.js';
import { newRunId, RunFolder, writeReports } from '../reports/runfolder.js';
import { kernelSubtest, tapHeader } from '../reports/tap14.js';
import { FAMILIES, type Family, HOST_FAMILIES, isFamily } from '../suites/families.js';
import { SELFTEST_NAMES, selftestMemoryMb, unknownTests } from '../suites/kselftests.js';
import type { AccelChoice } from './accel.js';
import { bench, benchMarkdown } from './bench.js';
import { bisect, checkRange } from './bisect.js';
import { realStep, revisionSpec } from './bisectstep.js';
import { listImages, listKernels, pruneBuilds, pruneImages, pruneSnapshots, renderImages, showCase } from './commands.js';
import { EXIT_INTERNAL, internalError, quietWhenReaderGone } from './fatal.js';
import { populateBench } from './popbench.js';
import { checkPatterns, findQemu } from './preflight.js';
import { chooseProgress, plainProgress } from './progress.js';
import { GUEST_DEFAULTS } from './qemu.js';
import { autoJobs, run } from './run.js';

export const DEFAULT_KERNELS = ['debian:bullseye', 'debian:bookworm', 'debian:trixie', 'debian:sid', 'debian:experimental'];

const EXIT = { ok: 0, deviation: 1, incomplete: 2, internal: EXIT_INTERNAL, sigint: 130, sigterm: 143 } as const;

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

function family(v: string, prev: Family[] = []): Family[] {
  if (!isFamily(v)) throw new InvalidArgumentError(`unknown suite '${v}' (known: ${[...FAMILIES, ...HOST_FAMILIES].join(', ')})`);
  return [...prev, v];
}

function poolSize(v: string): number | 'auto' {
  return v === 'auto' ? 'auto' : positiveInt(v);
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

// A reader that goes away (`mmatrix run | head`) must not end the run: results still land on disk.
process.stdout.on('error', () => undefined);

// Lines for people: stdout, or stderr when stdout carries TAP. run() swaps in its progress display.
let log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

interface BenchFlags {
  kernel?: string[];
  repeat: number;
  accel: AccelChoice;
  runsDir: string;
  suites?: boolean;
  vng?: boolean;
  totals?: boolean;
  populate?: boolean;
  populateMb: number[];
  populateRuns: number;
  machine: string;
}

function sizeList(v: string): number[] {
  const sizes = v.split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0 || n % 2 !== 0))
    throw new InvalidArgumentError('expected sizes in MiB, even numbers (2 MiB huge pages), e.g. 2,32');
  return sizes;
}

interface RunFlags {
  kernel?: string[];
  suite?: Family[];
  case?: string[];
  pool1g: number | 'auto';
  jobs?: number;
  shard?: string;
  resume?: string;
  tap?: boolean;
  baseline?: string;
  allowlist?: string;
  accel: AccelChoice;
  hugepages: number;
  memory: number;
  bootTimeout: number;
  snapshot: boolean;
  suiteTimeout: number;
  caseTimeout: number;
  runsDir: string;
  refresh: boolean;
  expectations?: string;
  test?: string[];
  fromTree?: string;
}

/** The run folder and results to finish, with the options it was started with. */
function resumeFrom(path: string, f: RunFlags): { folder: RunFolder; results: Results } {
  const dir = realpathSync(resolve(runDir(path))); // runs/latest names the folder it points at
  const results = withJournal(loadResults(dir), dir);
  const o = results.options;
  if (!o) throw new InputError(`run '${path}' records no options, so it cannot be resumed`);
  Object.assign(f, {
    kernel: o.kernels,
    suite: o.families,
    case: o.cases,
    hugepages: o.hugepages,
    pool1g: o.pool1g,
    memory: o.memoryMb,
    test: o.tests,
    fromTree: o.fromTree,
    shard: undefined,
  });
  return { folder: new RunFolder(dirname(dir), basename(dir), true), results: { ...results, complete: false, finished: null } };
}

async function runCommand(f: RunFlags): Promise<number> {
  const resumed = f.resume ? resumeFrom(f.resume, f) : null;
  const all = f.kernel ?? DEFAULT_KERNELS;
  const kernels = f.shard ? shardOf(all, parseShard(f.shard)) : all;
  for (const k of kernels) checkKernelSpec(parseKernelSpec(k)); // bad input fails before anything starts
  findQemu();
  if (f.case?.length) checkPatterns(f.case, (await import('../suites/catalog.js')).allCaseIds());
  const expectations = Expectations.load(f.expectations);
  loadCoverage(); // a broken coverage map fails here, before anything starts
  const baseline = f.baseline ? loadResults(f.baseline) : null;
  const allow = loadAllowlist(f.allowlist);
  const folder = resumed?.folder ?? new RunFolder(f.runsDir, newRunId());
  const id = folder.id;
  const families = f.suite ?? [...FAMILIES];
  const tests = f.test ?? [];
  if (tests.length && !families.includes('kselftest')) throw new InputError('-t/--test names kernel selftests: add -s kselftest, or use `mmatrix selftests`');
  if (f.fromTree && !families.includes('kselftest'))
    throw new InputError('--from-tree is for the kselftest family: add -s kselftest, or use `mmatrix selftests`');
  const unknown = unknownTests(tests);
  if (unknown.length) throw new InputError(`unknown selftest '${unknown[0]}' (known: ${SELFTEST_NAMES.join(', ')})`);
  // The selftests' own memory needs (mremap_test's 2 GB cases) raise the guest's memory.
  const memoryMb = families.includes('kselftest') ? Math.max(f.memory, selftestMemoryMb(tests)) : f.memory;
  if (memoryMb !== f.memory) log(`guest memory raised to ${memoryMb} MiB for the selftests (mremap_test's 2 GB cases)`);
  const options = {
    kernels,
    families,
    cases: f.case ?? [],
    hugepages: f.hugepages,
    pool1g: f.pool1g,
    memoryMb,
    ...(tests.length ? { tests } : {}),
    ...(f.fromTree ? { fromTree: f.fromTree } : {}),
  };
  const results: Results = resumed?.results ?? {
    schema: RESULTS_SCHEMA,
    runId: id,
    started: new Date().toISOString(),
    finished: null,
    complete: false,
    options,
    kernels: [],
  };
  const stop = (sig: NodeJS.Signals, code: number) => () => {
    const killed = killAll();
    ui.stop();
    results.complete = false;
    folder.save(results);
    log(`\n${sig}: stopped ${killed} guest(s); partial results in ${relative(process.cwd(), folder.dir)}`);
    process.exit(code);
  };
  const ui = f.tap ? plainProgress((t) => process.stderr.write(t)) : chooseProgress(process.stdout);
  log = ui.line;
  let tapped = 0;
  if (f.tap) process.stdout.write(tapHeader(kernels.length));
  process.once('SIGINT', stop('SIGINT', EXIT.sigint));
  process.once('SIGTERM', stop('SIGTERM', EXIT.sigterm));
  if (kernels.length === 0) throw new InputError(`shard ${f.shard} of ${all.length} kernel(s) is empty`);
  log(
    `mmatrix run ${id}: ${kernels.join(', ')}${f.shard ? ` (shard ${f.shard} of ${all.join(', ')})` : ''}${resumed ? ` (resumed: ${resumed.results.kernels.reduce((n, k) => n + k.cases.length, 0)} cases kept)` : ''}`,
  );
  await run(
    {
      kernels,
      families: options.families as Family[],
      cases: options.cases,
      pool1g: f.pool1g,
      jobs: f.jobs ?? autoJobs(availableParallelism(), freemem() / 2 ** 20, memoryMb),
      accel: f.accel,
      hugepages: f.hugepages,
      memoryMb,
      tests,
      fromTree: f.fromTree ?? null,
      bootTimeoutMs: f.bootTimeout * 1000,
      snapshots: f.snapshot,
      suiteTimeoutMs: f.suiteTimeout * 1000,
      caseTimeoutMs: f.caseTimeout * 1000,
      refresh: f.refresh,
      expectations,
      log,
      progress: (k) => ui.kernel(k),
      onKernelDone: (k) => {
        if (f.tap) process.stdout.write(kernelSubtest(k, ++tapped));
      },
    },
    folder,
    results,
  );
  ui.stop();
  const rel = relative(process.cwd(), folder.dir);
  log(`report: ${rel}/matrix.md`);
  log(`results: ${rel}/results.json`);
  if (baseline) {
    const g = gate(baseline, results, expectations, allow);
    const md = g.markdown;
    writeFileSync(join(folder.dir, 'diff.md'), md);
    log(`\n${md}`);
    log(`gate: ${relative(process.cwd(), folder.dir)}/diff.md`);
    return g.fails ? EXIT.deviation : runExit(results.kernels, results.complete, true);
  }
  const deviations = results.kernels.reduce((n, k) => n + verdictCounts(k).deviation, 0);
  const leaks = results.kernels.reduce((n, k) => n + poolLeaks(k).length + (k.poolDrift?.length ?? 0), 0);
  const broken = results.kernels.reduce((n, k) => n + brokenCases(k).length, 0);
  if (deviations) {
    log(`${deviations} deviation(s) from the expectation table:`);
    for (const line of deviationLines(results.kernels, 20)) log(`  ${line}`);
  }
  if (leaks) log(`${leaks} hugetlb pool leak(s): see matrix.md`);
  if (broken) log(`${broken} case(s) crashed or hung the guest: see matrix.md`);
  return runExit(results.kernels, results.complete);
}

export function program(): Command {
  const p = new Command('mmatrix')
    .description('Linux memory-management semantics across kernels, observed in real QEMU guests')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `\nExamples:\n  mmatrix run                                  the five Debian kernels, every suite\n  mmatrix run -k debian:bookworm -s zap        one kernel, one suite\n  mmatrix show madv_dontneed.hugetlbfs-private what that case did on each kernel of runs/latest\n  mmatrix diff runs/base runs/latest           the gate, by hand\n\nExit codes: 0 conformant, 1 deviation / pool leak / crash / unexplained change, 2 incomplete or bad input, 3 internal error (a bug: the log it names holds the stack), 130/143 interrupted.`,
    )
    .exitOverride();
  p.command('run')
    .description('boot each kernel, run the suites, write a run folder (matrix.html, matrix.md, junit.xml, results.json)')
    .option('-k, --kernel <spec>', 'debian:<suite>|<version>, bzimage:<path>[,modules=<dir>] or src:<tree>[,patches=<mbox|dir>]; repeatable', collect)
    .option('-s, --suite <family>', `suite family to run (${FAMILIES.join(', ')}; and kselftest, never by default); repeatable`, family)
    .option('-t, --test <name>', `with -s kselftest: only this selftest (${SELFTEST_NAMES.join(', ')}); repeatable`, collect)
    .option('--from-tree <spec>', "with -s kselftest: every kernel also runs this tree's selftests (debian:<suite> or a source folder), in rows of their own")
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('-c, --case <pattern>', "only cases whose id matches (* and {a,b}), e.g. 'madv_dontneed*.hugetlbfs-*'; repeatable", collect)
    .option('--hugepages <n>', 'default-size huge pages the guest reserves', positiveInt, GUEST_DEFAULTS.hugepages)
    .option('--pool-1g <n>', '1 GiB huge pages the guest reserves (auto: 2 under KVM, 0 under TCG)', poolSize, 'auto')
    .option('--memory <mb>', 'guest memory in MiB', positiveInt, GUEST_DEFAULTS.memoryMb)
    .option('-j, --jobs <n>', 'guests at once (default: one per core, as memory allows)', positiveInt)
    .option('--boot-timeout <s>', 'seconds to wait for SSH', positiveInt, GUEST_DEFAULTS.bootTimeoutS)
    .option('--no-snapshot', 'boot every guest instead of restoring a cached snapshot of a booted one')
    .option('--suite-timeout <s>', 'seconds one suite family may take', positiveInt, 1800)
    .option('--case-timeout <s>', 'seconds a case may print nothing before it counts as hung', positiveInt, 180)
    .option('--runs-dir <dir>', 'where run folders go', 'runs')
    .option('--refresh', 'fetch fresh package lists for Debian suites', false)
    .option('--expectations <file>', 'expectation table to judge against (default: suites/expectations.json)')
    .option('--tap', 'stream one TAP 14 stream to stdout (a subtest per kernel); progress goes to stderr')
    .option('--resume <run>', 'finish an interrupted run folder: keep its cases, run only what is missing, with its own options')
    .option('--shard <i/n>', 'run only every n-th kernel from the i-th; `mmatrix merge` joins the shards')
    .option('--baseline <results>', 'gate: compare with this results.json (or run folder); exit 1 on an unexplained change or a crash')
    .option('--allowlist <file>', 'with --baseline: case patterns whose changes are accepted, one per line (# comments)')
    .addHelpText(
      'after',
      `\nExamples:\n  mmatrix run\n  mmatrix run -k debian:bookworm -k debian:trixie\n  mmatrix run -k bzimage:arch/x86/boot/bzImage,modules=/lib/modules/6.12.0 --baseline runs/base/results.json\n  mmatrix run -c 'madv_dontneed*.hugetlbfs-*' -s zap\n  mmatrix run -k src:~/linux -k src:~/linux,patches=series.mbox\n  mmatrix run -k src:debian:bookworm,patches=0001-fix.patch --baseline runs/base/results.json`,
    )
    .action(async (f: RunFlags) => {
      process.exitCode = await runCommand(f);
    });
  p.command('selftests')
    .description("the kernel's own mm selftests, built from each kernel's source tree, run in its guest: `run -s kselftest`")
    .option('-k, --kernel <spec>', 'as for run; repeatable', collect)
    .option('-t, --test <name>', `only this selftest (${SELFTEST_NAMES.join(', ')}); repeatable`, collect)
    .option('--from-tree <spec>', "every kernel also runs this tree's selftests (debian:<suite> or a source folder), in rows of their own")
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--hugepages <n>', 'default-size huge pages the guest reserves at boot', positiveInt, GUEST_DEFAULTS.hugepages)
    .option('--memory <mb>', 'guest memory in MiB (raised to what the chosen tests need)', positiveInt, GUEST_DEFAULTS.memoryMb)
    .option('-j, --jobs <n>', 'guests at once', positiveInt)
    .option('--boot-timeout <s>', 'seconds to wait for SSH', positiveInt, GUEST_DEFAULTS.bootTimeoutS)
    .option('--runs-dir <dir>', 'where run folders go', 'runs')
    .option('--refresh', 'fetch fresh package lists for Debian suites', false)
    .option('--tap', 'stream one TAP 14 stream to stdout; progress goes to stderr')
    .option('--baseline <results>', 'gate: compare with this results.json (a PASS that became FAIL is a change)')
    .option('--allowlist <file>', 'with --baseline: row patterns whose changes are accepted')
    .addHelpText(
      'after',
      `\nExamples:\n  mmatrix selftests -k debian:bookworm -k debian:trixie\n  mmatrix selftests -t madv_populate -t hugetlb-madvise\n  mmatrix selftests --from-tree debian:experimental -t guard-regions`,
    )
    .action(async (f: RunFlags) => {
      process.exitCode = await runCommand({ ...f, suite: ['kselftest'], pool1g: 'auto', suiteTimeout: 3600, caseTimeout: 600 });
    });
  p.command('bisect')
    .description('the first commit of a git tree where the named cells change: git bisect, each step built with src: and run')
    .argument('<tree>', 'a kernel git tree (never written: git bisect runs in a copy in the cache)')
    .requiredOption('--good <rev>', 'a revision with the old cells')
    .requiredOption('--bad <rev>', 'a later revision with the new cells')
    .requiredOption('-c, --case <pattern>', 'the cases to judge each step by (as for run); repeatable', collect)
    .option('--patches <mbox|dir>', 'a patch series applied on top of every step (git am)')
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--runs-dir <dir>', 'where the bisection folder goes', 'runs')
    .option('--restart', 'forget what an interrupted bisection of the same range and cases found, and start again')
    .addHelpText(
      'after',
      `\nThe two ends are built and run first: their cells are what each step is judged by (good, bad, skip when it does not build or boot, neither). An interrupted bisection resumes when the same command is run again.\n\nExamples:\n  mmatrix bisect ~/linux --good v6.1 --bad v6.2 -c madv_dontneed.hugetlbfs-private\n  mmatrix bisect ~/linux --good base --bad HEAD -c 'madv_free.anon-thp-*' --patches fix.patch`,
    )
    .action(
      async (tree: string, f: { good: string; bad: string; case: string[]; patches?: string; accel: AccelChoice; runsDir: string; restart?: boolean }) => {
        process.exitCode = await bisectCommand(userPath(tree), f);
      },
    );
  p.command('diff')
    .description('the cells that changed from a baseline to a candidate, classed expected / accepted / unexplained; exit 1 on an unexplained change or a crash')
    .argument('<baseline>', 'results.json or run folder')
    .argument('<candidate>', 'results.json or run folder')
    .option('--allowlist <file>', 'case patterns whose changes are accepted, one per line, optional reason after the pattern')
    .option('--expectations <file>', 'expectation table that explains changes (default: suites/expectations.json)')
    .option('--no-expectations', 'class every change not in the allowlist as unexplained')
    .option('--allow-mismatch', 'compare even when the two ran different suite versions')
    .option('-o, --output <file>', 'also write the Markdown summary here')
    .addHelpText('after', `\nExamples:\n  mmatrix diff runs/base runs/latest\n  mmatrix diff base.json cand.json --allowlist .mmatrix-allow -o diff.md`)
    .action((base: string, cand: string, f: { allowlist?: string; expectations: string | boolean; allowMismatch?: boolean; output?: string }) => {
      const x = f.expectations === false ? null : Expectations.load(typeof f.expectations === 'string' ? f.expectations : undefined);
      const g = gate(loadResults(base), loadResults(cand), x, loadAllowlist(f.allowlist), !!f.allowMismatch);
      const md = g.markdown;
      process.stdout.write(md);
      if (f.output) writeFileSync(f.output, md);
      process.exitCode = g.fails ? EXIT.deviation : EXIT.ok;
    });
  p.command('merge')
    .description('join result files (shards, or runs on several machines) into one run folder with every report')
    .argument('<results...>', 'results.json files or run folders')
    .option('-o, --output <dir>', 'the run folder to write (default: runs/<new id>)')
    .option('--runs-dir <dir>', 'where a new run folder goes', 'runs')
    .addHelpText('after', `\nExample:\n  mmatrix merge shard1/results.json shard2/results.json -o runs/merged`)
    .action((paths: string[], f: { output?: string; runsDir: string }) => {
      const parts = paths.map(loadResults);
      const dir = f.output ?? new RunFolder(f.runsDir, `merged-${newRunId()}`).dir;
      mkdirSync(dir, { recursive: true });
      const merged = mergeResults(parts, basename(dir));
      writeReports(dir, merged);
      log(`merged ${parts.reduce((n, p) => n + p.kernels.length, 0)} kernel(s) from ${parts.length} file(s) into ${relative(process.cwd(), dir) || '.'}`);
      process.exitCode = runExit(merged.kernels, merged.complete); // the verdict of all the shards together
    });
  p.command('report')
    .description('re-render matrix.md, matrix.html and junit.xml of a run folder from its results.json')
    .argument('<run>', 'run folder (or its results.json)')
    .addHelpText('after', `\nExample:\n  mmatrix report runs/latest`)
    .action((run: string) => {
      const r = loadResults(run);
      const dir = runDir(run);
      writeReports(dir, r);
      log(`wrote ${['matrix.md', 'matrix.html', 'junit.xml'].map((f) => join(relative(process.cwd(), dir) || '.', f)).join(', ')}`);
    });
  p.command('show')
    .description('one case across the kernels of a run: its full observation, the expectation and its source')
    .argument('<case-id>', 'e.g. madv_dontneed.hugetlbfs-private')
    .option('-r, --run <run>', 'run folder or results.json', 'runs/latest')
    .addHelpText('after', `\nExample:\n  mmatrix show resv_madv_dontneed.hugetlbfs-private -r runs/latest`)
    .action((id: string, f: { run: string }) => {
      process.stdout.write(showCase(loadResults(f.run), id, Expectations.load()));
    });
  p.command('guide')
    .description("seed 002's list from a run: per memory type and kernel, the zap call that frees a range and guarantees a userfaultfd fault")
    .option('-r, --run <run>', 'run folder or results.json', 'runs/latest')
    .option('--memtype <memtype>', 'one memory type, e.g. memfd-shared')
    .option('--kernel <kernel>', 'one kernel, by release or spec')
    .addHelpText('after', `\nExample:\n  mmatrix guide -r runs/latest --memtype hugetlbfs-private`)
    .action((f: { run: string; memtype?: string; kernel?: string }) => {
      process.stdout.write(renderGuide(guide(loadResults(f.run), { memtype: f.memtype, kernel: f.kernel })));
    });
  p.command('kernels')
    .description('the kernel sources mmatrix knows, their newest versions, and what is cached')
    .option('--resolve', 'look the newest versions up in the package lists (fetches them the first time)')
    .addHelpText('after', `\nExamples:\n  mmatrix kernels\n  mmatrix kernels --resolve`)
    .action(async (f: { resolve?: boolean }) => {
      process.stdout.write(await listKernels(!!f.resolve));
    });
  const images = p
    .command('images')
    .description('the image cache: list (default), build or prune')
    .addHelpText('after', `\nExamples:\n  mmatrix images\n  mmatrix images build -k debian:trixie\n  mmatrix images prune\n  mmatrix images prune --builds`);
  images
    .command('list', { isDefault: true })
    .description('cached guest images with their sizes')
    .action(() => {
      process.stdout.write(renderImages(listImages()));
    });
  images
    .command('build')
    .description('fetch a kernel and build its image without booting it')
    .requiredOption('-k, --kernel <spec>', 'kernel to build for; repeatable', collect)
    .action(async (f: { kernel: string[] }) => {
      for (const k of f.kernel) checkKernelSpec(parseKernelSpec(k));
      for (const k of f.kernel) {
        const kernel = await prepareKernel(k, false, log);
        const img = await buildImage(kernel);
        log(`${k}: ${img.built ? 'built' : 'cached'} ${relative(process.cwd(), img.dir)}`);
      }
    });
  images
    .command('prune')
    .description('remove all but the newest image of each kernel, and the snapshots of guests whose files are gone')
    .option('--all', 'remove every image and snapshot')
    .option('--builds', 'also remove the trees of src: builds (copies and objects; the built kernels stay cached)')
    .action((f: { all?: boolean; builds?: boolean }) => {
      const gone = pruneImages(!!f.all);
      log(`removed ${gone.length} image(s), ${(gone.reduce((n, e) => n + e.bytes, 0) / 1e6).toFixed(0)} MB`);
      const snaps = pruneSnapshots(!!f.all);
      log(`removed ${snaps.count} snapshot(s), ${(snaps.bytes / 1e6).toFixed(0)} MB`);
      if (f.builds) log(`removed the source build trees, ${(pruneBuilds() / 1e6).toFixed(0)} MB`);
    });
  p.command('bench')
    .description('measure boots (busybox floor against SSH ready), suites and virtme-ng; medians and ratios')
    .option('-k, --kernel <spec>', 'kernel to measure; repeatable', collect)
    .option('-n, --repeat <n>', 'boots of each kind per kernel (0 with --populate: only the populate experiment)', positiveInt, 5)
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default('auto'))
    .option('--runs-dir <dir>', 'where the bench folder goes', 'runs')
    .addHelpText(
      'after',
      `\nExamples:\n  mmatrix bench -k debian:bookworm -n 7\n  mmatrix bench -k debian:bookworm --suites --vng\n  mmatrix bench -n 1 --totals`,
    )
    .option('--suites', "also run every suite once per kernel (wall time, cells per second), then time the kernel's whole mmatrix run")
    .option('--vng', "also time a first command against virtme-ng booting the same kernel (Debian sid's package, unpacked into the cache)")
    .option('--totals', 'also time `mmatrix run` over the kernels with an empty cache of its own (cold), then again (warm)')
    .option('--populate', "run seed 004's populate experiment on each kernel: populate.md / populate.json")
    .option('--populate-mb <list>', 'with --populate: mapping sizes in MiB, comma-separated', sizeList, [2, 32])
    .option('--populate-runs <n>', 'with --populate: runs per figure, the shortest kept (the seed took 10)', positiveInt, 10)
    .option(
      '--machine <text>',
      'with --populate: what the figures come from, for the report',
      `${availableParallelism()} cores, ${Math.round(totalmem() / 2 ** 30)} GiB`,
    )
    .action(async (f: BenchFlags) => {
      const kernels = f.kernel ?? DEFAULT_KERNELS;
      for (const k of kernels) checkKernelSpec(parseKernelSpec(k));
      const folder = new RunFolder(f.runsDir, `bench-${newRunId()}`);
      if (f.populate) {
        const { markdown } = await populateBench(kernels, {
          sizesMb: f.populateMb,
          runs: f.populateRuns,
          accel: f.accel,
          dir: folder.dir,
          machine: f.machine,
          log,
        });
        log(`\n${markdown}`);
        log(`written: ${relative(process.cwd(), folder.dir)}/populate.md, populate.json`);
        if (!f.suites && !f.vng && !f.totals && f.repeat === 0) return;
      }
      const { rows, totals } = await bench(kernels, {
        repeat: Math.max(1, f.repeat),
        accel: f.accel,
        dir: folder.dir,
        log,
        suites: f.suites,
        vng: f.vng,
        totals: f.totals,
      });
      log(`\n${benchMarkdown(rows, f.repeat, totals)}`);
      log(`written: ${relative(process.cwd(), folder.dir)}/bench.json, bench.md`);
    });
  return p;
}

/** `mmatrix bisect`: the folder is named by what is bisected, so the same command resumes. */
async function bisectCommand(
  tree: string,
  f: { good: string; bad: string; case: string[]; patches?: string; accel: AccelChoice; runsDir: string; restart?: boolean },
): Promise<number> {
  const patches = f.patches ? userPath(f.patches) : null;
  checkKernelSpec(parseKernelSpec(`src:${tree}${patches ? `,patches=${patches}` : ''}`)); // a kernel tree, patches that exist
  checkPatterns(f.case, (await import('../suites/catalog.js')).allCaseIds());
  findQemu();
  const range = await checkRange(tree, f.good, f.bad);
  const key = hashOf([
    realpathSync(tree),
    range.good,
    range.bad,
    ...[...f.case].sort(),
    ...(patches ? patchFiles(patches).map((p) => readFileSync(p, 'utf8')) : []),
  ]);
  const dir = resolve(f.runsDir, `bisect-${key}`);
  const expectations = Expectations.load();
  log(`mmatrix bisect: ${f.case.join(', ')} over ${f.good}..${f.bad} (${range.revisions} commits) in ${tree}; folder ${relative(process.cwd(), dir)}`);
  for (const [sig, code] of [
    ['SIGINT', EXIT.sigint],
    ['SIGTERM', EXIT.sigterm],
  ] as const) {
    process.once(sig, () => {
      const killed = killAll();
      log(`\n${sig}: stopped ${killed} guest(s) or build(s); bisect.json keeps every revision tested: run the same command to resume`);
      process.exit(code);
    });
  }
  const record = await bisect({
    tree,
    good: f.good,
    bad: f.bad,
    cases: f.case,
    patches,
    dir,
    repo: cachePath('bisect', key),
    restart: f.restart,
    evaluate: realStep({ tree, patches, cases: f.case, dir, accel: f.accel, expectations, log }),
    // The commit, then its parent (the commit itself when it has none).
    reproduce: (c) =>
      [c, execFileSync('git', ['-C', tree, 'rev-parse', `${c}^@`], { encoding: 'utf8' }).split('\n')[0] || c].map(
        (rev) => `mmatrix run -k ${revisionSpec(tree, rev, patches)} ${f.case.map((p) => `-c '${p}'`).join(' ')}`,
      ),
    log,
  });
  const text = renderBisect(record);
  writeFileSync(join(dir, 'bisect.md'), text);
  log(`\n${text}`);
  log(`written: ${relative(process.cwd(), dir)}/bisect.json, bisect.md, bisect.log, git-bisect.log`);
  return record.end?.kind === 'found' ? EXIT.ok : EXIT.deviation;
}

/** The command a user named, when it is not one of mmatrix's: commander would print the global
 * help for `mmatrix bisect --help` and exit 0. */
export function unknownCommand(p: Command, argv: string[]): string | null {
  const first = argv.find((a) => !a.startsWith('-'));
  if (first === undefined || first === 'help' || p.commands.some((c) => c.name() === first || c.aliases().includes(first))) return null;
  return first;
}

async function main(): Promise<void> {
  process.on('uncaughtException', internalError);
  process.on('unhandledRejection', internalError);
  quietWhenReaderGone(process.stdout);
  quietWhenReaderGone(process.stderr);
  const p = program();
  const unknown = unknownCommand(p, process.argv.slice(2));
  if (unknown !== null) {
    process.stderr.write(`mmatrix: unknown command '${unknown}' (commands: ${p.commands.map((c) => c.name()).join(', ')})\n`);
    process.exitCode = EXIT.incomplete;
    return;
  }
  try {
    await p.parseAsync(process.argv);
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
    if (e instanceof InfraError) {
      process.stderr.write(`mmatrix: ${e.phase}: ${e.message.split('\n')[0]}\n`);
      process.exitCode = EXIT.incomplete;
      return;
    }
    internalError(e);
  }
}

await main();
