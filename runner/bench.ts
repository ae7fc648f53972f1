// `mmatrix bench`: per kernel, boot-to-/init of a busybox-only initramfs (the floor),
// boot-to-SSH-ready of the real image, and SSH ready of a guest restored from the kernel's
// snapshot (what `run` starts), interleaved so drift hits all alike; medians and their ratios.
// Figures go to stdout and to bench.json / bench.md in a run folder.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromRoot } from '../common/paths.js';
import { track } from '../common/procs.js';
import { FLOOR_MARKER, floorImage } from '../images/floor.js';
import { buildImage } from '../images/initramfs.js';
import { type Kernel, prepareKernel } from '../images/kernel.js';
import { scratchDisks } from '../images/scratch.js';
import { virtmeNg, vngKernelImage } from '../images/virtmeng.js';
import type { Results } from '../reports/results.js';
import { FAMILIES } from '../suites/families.js';
import { type AccelChoice, accelPlan } from './accel.js';
import { guestBundle } from './bundle.js';
import { familyRequest } from './family.js';
import { Guest, type GuestOptions, guestConfig } from './guest.js';
import { type Accel, accelArgs, bootArgs, GUEST_DEFAULTS, type GuestConfig, machineArgs } from './qemu.js';
import { snapshotOf } from './snapshot.js';
import { parseTap } from './tap.js';

export interface SuiteFigure {
  family: string;
  seconds: number; // wall time of the family in one booted guest
  cells: number; // cases it ran (skips excluded)
}

export interface BenchRow {
  kernel: string;
  release: string;
  accel: Accel;
  floor: number[]; // seconds, QEMU start to the floor's /init
  ssh: number[]; // seconds, QEMU start to an authenticated SSH session
  restored: number[]; // seconds, QEMU start restoring the kernel's snapshot to an authenticated SSH session
  cacheHitMs: number; // knowing the kernel and its image are cached: prepareKernel + buildImage
  suites: SuiteFigure[]; // with --suites: each family once, after a boot
  run?: WholeRun; // with --suites: the kernel's whole `mmatrix run`
  firstCommand: number[]; // with --vng: QEMU start to the output of a first command over SSH
  vng: number[]; // and virtme-ng's start to the output of the same command
  vngVersion?: string;
  error?: string; // the kernel could not be benched: why (the others' figures are kept)
}

const MARK = 'mmatrix-first-command';

/** Seconds from starting `cmd` to `MARK` on its stdout; the process is left to finish (or killed at 5 min). */
function untilMark(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const p = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  track(p);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = ''; // its last words, should it fail (vng: a missing python module, a kernel it cannot boot)
    let at = 0;
    p.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-4000);
    });
    const kill = setTimeout(() => p.kill('SIGKILL'), 300_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!at && out.includes(MARK)) at = (performance.now() - t0) / 1000;
    });
    p.on('exit', () => {
      clearTimeout(kill);
      if (at) resolve(at);
      else {
        const last = err.trim().split('\n').at(-1);
        reject(new Error(`${cmd} ${args.join(' ')} never printed the command's output${last ? `: ${last}` : ''}`));
      }
    });
  });
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function bootFloor(k: Kernel, initramfs: string, accel: Accel): Promise<number> {
  const c: GuestConfig = { kernel: k.image, initramfs, disks: [], accel, memoryMb: GUEST_DEFAULTS.memoryMb, cpus: 1, hugepages: 0, sshPort: 0, consoleLog: '' };
  // The same machine and command line as a real guest, without network and disks.
  const args = [...accelArgs(accel), ...machineArgs(c), ...bootArgs(c), '-serial', 'stdio'];
  const t0 = Date.now();
  const p = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  track(p);
  return new Promise((resolve, reject) => {
    let out = '';
    let at = 0;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!at && out.includes(FLOOR_MARKER)) at = (Date.now() - t0) / 1000;
    });
    p.on('exit', () => (at ? resolve(at) : reject(new Error(`floor boot of ${k.release} printed no marker`))));
  });
}

/** Each family once in a booted guest: wall time and cells per second. */
async function suiteFigures(g: Guest, log: (s: string) => void, release: string): Promise<SuiteFigure[]> {
  await g.push(guestBundle());
  const out: SuiteFigure[] = [];
  for (const family of FAMILIES) {
    const t0 = performance.now();
    const r = await g.ask(familyRequest(family, [], null, g.config.accel), { timeoutMs: 1800_000 });
    const seconds = (performance.now() - t0) / 1000;
    const cells = parseTap(r.stdout).cases.filter((c) => c.status !== 'skip').length;
    out.push({ family, seconds, cells });
    log(`${release}: ${family}: ${cells} cells in ${seconds.toFixed(2)} s (${(cells / seconds).toFixed(1)} cells/s)`);
  }
  return out;
}

// virtme-ng boots slowly under TCG (docs/figures.md): three boots are enough for a median.
const VNG_RUNS = 3;

export interface WholeRun {
  seconds: number; // the command's wall time: start, kernel lookup, boots, every suite, reports
  boot: number; // the first guest's QEMU start to SSH ready
  cells: number; // observed cases
  code: number | null;
}

export interface Totals {
  kernels: string[];
  cold: number; // seconds of `mmatrix run` with an empty cache: downloads, unpacking, images, boots, suites
  warm: number; // the same run again, everything cached
  exitCodes: [number | null, number | null];
}

/** `mmatrix run` over `kernels` as a user starts it (CI=true: plain lines), with a cache folder
 * of its own when `cache` is given: its wall time, exit code and results. */
function timedRun(kernels: string[], runsDir: string, cache?: string): Promise<{ seconds: number; code: number | null; results: Results | null }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const args = [fromRoot('dist/runner/cli.js'), 'run', '--runs-dir', runsDir, ...kernels.flatMap((k) => ['-k', k])];
    const p = spawn(process.execPath, args, { env: { ...process.env, ...(cache ? { MMATRIX_CACHE: cache } : {}), CI: 'true' }, stdio: 'ignore' });
    track(p);
    p.on('exit', (code) => {
      const file = join(runsDir, 'latest', 'results.json');
      const results = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Results) : null;
      resolve({ seconds: (performance.now() - t0) / 1000, code, results });
    });
  });
}

/** Wall time of `mmatrix run` over `kernels`, first with an empty cache of its own, then again warm. */
export async function runTotals(kernels: string[], dir: string, log: (s: string) => void): Promise<Totals> {
  const cache = mkdtempSync(join(tmpdir(), 'mmatrix-cold-'));
  try {
    log(`totals: ${kernels.length} kernels with an empty cache (${cache})`);
    const cold = await timedRun(kernels, join(dir, 'cold'), cache);
    log(`totals: cold ${cold.seconds.toFixed(1)} s (exit ${cold.code}); again, warm`);
    const warm = await timedRun(kernels, join(dir, 'warm'), cache);
    log(`totals: warm ${warm.seconds.toFixed(1)} s (exit ${warm.code})`);
    return { kernels, cold: cold.seconds, warm: warm.seconds, exitCodes: [cold.code, warm.code] };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

/** One kernel's whole `mmatrix run`, warm: what a user waits for, every suite and memory type
 * (with a core to spare the run gives the kernel a second guest). */
async function wholeRun(spec: string, dir: string, log: (s: string) => void): Promise<WholeRun> {
  const r = await timedRun([spec], join(dir, `run-${spec.replace(/[^\w.-]+/g, '_')}`));
  const k = r.results?.kernels[0];
  const cells = k?.cases.filter((c) => c.status === 'observed').length ?? 0;
  const boot = k?.bootSeconds ?? 0;
  log(`${spec}: mmatrix run: ${r.seconds.toFixed(2)} s (exit ${r.code}), ${cells} cells, SSH ready at ${boot.toFixed(2)} s`);
  return { seconds: r.seconds, boot, cells, code: r.code };
}

export interface BenchOptions {
  repeat: number;
  accel: AccelChoice;
  dir: string;
  log: (s: string) => void;
  suites?: boolean;
  vng?: boolean;
  totals?: boolean;
}

export async function bench(specs: string[], o: BenchOptions): Promise<{ rows: BenchRow[]; totals: Totals | null }> {
  const { repeat, dir, log } = o;
  const [accelChoice, withSuites, withVng] = [o.accel, !!o.suites, !!o.vng];
  const accel = accelPlan(accelChoice).order[0];
  const vng = withVng ? await virtmeNg(log) : null;
  const floor = await floorImage();
  const rows: BenchRow[] = [];
  const save = (totals: Totals | null = null) => {
    writeFileSync(join(dir, 'bench.json'), `${JSON.stringify({ date: new Date().toISOString(), repeat, rows, totals }, null, 2)}\n`);
    writeFileSync(join(dir, 'bench.md'), benchMarkdown(rows, repeat, totals));
  };
  for (const spec of specs) {
    try {
      rows.push(await benchKernel(spec));
    } catch (e) {
      // One kernel's failure is reported; the figures of the others are kept.
      const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
      log(`${spec}: bench failed: ${message}`);
      rows.push({ kernel: spec, release: spec, accel, floor: [], ssh: [], restored: [], cacheHitMs: 0, suites: [], firstCommand: [], vng: [], error: message });
    }
    save();
  }
  const totals = o.totals ? await runTotals(specs, dir, log) : null;
  save(totals);
  return { rows, totals };

  async function benchKernel(spec: string): Promise<BenchRow> {
    await buildImage(await prepareKernel(spec, false, log)); // fetch and build outside the figures
    const t0 = performance.now();
    const k = await prepareKernel(spec, false, log);
    const image = await buildImage(k);
    const cacheHitMs = performance.now() - t0;
    const disks = await scratchDisks();
    const row: BenchRow = { kernel: spec, release: k.release, accel, floor: [], ssh: [], restored: [], cacheHitMs, suites: [], firstCommand: [], vng: [] };
    const opts: GuestOptions = {
      accel,
      memoryMb: GUEST_DEFAULTS.memoryMb,
      hugepages: GUEST_DEFAULTS.hugepages,
      bootTimeoutMs: GUEST_DEFAULTS.bootTimeoutS * 1000,
      consoleLog: join(dir, `${k.id}.console.log`),
      disks,
    };
    const { snapshot } = await snapshotOf(guestConfig(k, image, opts), opts.bootTimeoutMs); // made outside the figures
    for (let i = 0; i < repeat; i++) {
      row.floor.push(await bootFloor(k, floor, accel));
      const r = await Guest.boot(k, image, { ...opts, snapshot });
      row.restored.push(r.bootSeconds);
      await r.close();
      const g = await Guest.boot(k, image, opts);
      row.ssh.push(g.bootSeconds);
      if (vng && i < VNG_RUNS) {
        await g.exec(`echo ${MARK}`);
        row.firstCommand.push((performance.now() - g.startedAt) / 1000);
      }
      if (withSuites && i === 0) row.suites = await suiteFigures(g, log, k.release);
      await g.close();
      if (withSuites && i === 0) row.run = await wholeRun(spec, dir, log);
      if (vng && i < VNG_RUNS) {
        const a = vng.argv(vngKernelImage(k), accel === 'tcg', ['echo', MARK]);
        row.vng.push(await untilMark(a.cmd, a.args, a.env));
        row.vngVersion = vng.version;
        log(`${k.release}: run ${i + 1}: first command ${row.firstCommand[i].toFixed(2)} s, virtme-ng ${row.vng[i].toFixed(2)} s`);
      }
      log(
        `${k.release}: run ${i + 1}/${repeat}: floor ${row.floor[i].toFixed(2)} s, SSH ready ${row.ssh[i].toFixed(2)} s, restored ${row.restored[i].toFixed(2)} s`,
      );
    }
    return row;
  }
}

const minutes = (s: number) => (s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${(s % 60).toFixed(0)} s`);

export function benchMarkdown(rows: BenchRow[], repeat: number, totals: Totals | null = null): string {
  const lines = [
    `Medians of ${repeat} interleaved boots per kernel.`,
    '',
    '| kernel | accel | boot to /init (busybox only) | boot to SSH ready | ratio | restored from its snapshot to SSH ready | ratio | cache hit |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows.filter((x) => x.error)) lines.push(`| ${r.kernel} | ${r.accel} | failed: ${r.error} | | | | | |`);
  rows = rows.filter((x) => !x.error);
  for (const r of rows) {
    const f = median(r.floor);
    const s = median(r.ssh);
    const q = median(r.restored);
    lines.push(
      `| ${r.release} | ${r.accel} | ${f.toFixed(2)} s | ${s.toFixed(2)} s | ${(s / f).toFixed(2)} | ${q.toFixed(2)} s | ${(q / f).toFixed(2)} | ${r.cacheHitMs.toFixed(0)} ms |`,
    );
  }
  const withVng = rows.filter((r) => r.vng.length);
  if (withVng.length) {
    lines.push(
      '',
      `Boot to the output of a first command (\`echo\`), against virtme-ng ${withVng[0].vngVersion} booting the same kernel (medians of ${withVng[0].vng.length}):`,
      '',
      '| kernel | mmatrix | virtme-ng | ratio |',
      '|---|---|---|---|',
    );
    for (const r of withVng)
      lines.push(
        `| ${r.release} | ${median(r.firstCommand).toFixed(2)} s | ${median(r.vng).toFixed(2)} s | ${(median(r.firstCommand) / median(r.vng)).toFixed(2)} |`,
      );
  }
  const withSuites = rows.filter((r) => r.suites.length);
  if (withSuites.length) {
    lines.push(
      '',
      'Suites, each once after a boot (cells: cases run, skips excluded):',
      '',
      '| kernel | suite | wall | cells | cells/s |',
      '|---|---|---|---|---|',
    );
    for (const r of withSuites) {
      for (const x of r.suites) lines.push(`| ${r.release} | ${x.family} | ${x.seconds.toFixed(2)} s | ${x.cells} | ${(x.cells / x.seconds).toFixed(1)} |`);
      const wall = r.suites.reduce((n, x) => n + x.seconds, 0);
      const cells = r.suites.reduce((n, x) => n + x.cells, 0);
      lines.push(`| ${r.release} | all, after boot | ${wall.toFixed(2)} s | ${cells} | ${(cells / wall).toFixed(1)} |`);
      lines.push(`| ${r.release} | all, with the boot | ${(wall + median(r.ssh)).toFixed(2)} s | ${cells} | |`);
    }
    const runs = withSuites.filter((r) => r.run);
    lines.push(
      '',
      '`mmatrix run -k <kernel>`, warm, as a user runs it (a second guest takes families when a core is free); cells/s counts from SSH ready:',
      '',
      '| kernel | wall, with the boot | SSH ready | cells | cells/s after boot |',
      '|---|---|---|---|---|',
    );
    for (const { release, run } of runs)
      lines.push(
        `| ${release} | ${run!.seconds.toFixed(2)} s | ${run!.boot.toFixed(2)} s | ${run!.cells} | ${(run!.cells / (run!.seconds - run!.boot)).toFixed(1)} |`,
      );
  }
  if (totals) {
    lines.push(
      '',
      `\`mmatrix run\` over ${totals.kernels.join(', ')}, one run each (exit ${totals.exitCodes.join(', ')}):`,
      '',
      '| caches | wall |',
      '|---|---|',
    );
    lines.push(`| cold (empty cache: downloads, unpacking, images) | ${minutes(totals.cold)} |`, `| warm (the same run again) | ${minutes(totals.warm)} |`);
  }
  return `${lines.join('\n')}\n`;
}
