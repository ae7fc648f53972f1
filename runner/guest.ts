// One guest: start QEMU, wait for SSH, push the bundle, run suites, power off.
// QEMU never outlives the Guest: close() kills it, and procs.ts kills it at exit.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../common/errors.js';
import { track } from '../common/procs.js';
import { TROUBLE } from '../guest/kmsg.js';
import {
  CONSOLE_ANNOUNCEMENT,
  decodeAnswer,
  encodeRequest,
  type GuestFacts,
  isFacts,
  isPools,
  type Pools,
  type Request,
  SNAPSHOT_FLAG,
  SNAPSHOT_GO,
  SSHD_STARTED,
} from '../guest/protocol.js';
import type { Image } from '../images/initramfs.js';
import type { Kernel } from '../images/kernel.js';
import { clientKey, keyBlob } from '../images/keys.js';
import { GUEST_DIR } from './bundle.js';
import { type Accel, type Disk, type GuestConfig, qemuArgs, restoreArgs, type Snapshot, snapshotConfig } from './qemu.js';
import { loadState, Qmp } from './qmp.js';
import { type ExecOptions, type ExecResult, type Server, Ssh, waitForBanner } from './ssh.js';

export interface GuestOptions {
  accel: Accel;
  memoryMb: number;
  hugepages: number;
  bootTimeoutMs: number;
  consoleLog: string;
  extraCmdline?: string;
  disks?: Disk[]; // more virtio disks after the node disk
  qemu?: string;
  snapshot?: Snapshot; // restore this guest (runner/snapshot.ts) instead of booting one
}

/** The machine a kernel's guest runs on: every guest of these options, booted or restored, is
 * this machine (its SSH port and console file aside). */
export const guestConfig = (kernel: Kernel, image: Image, o: GuestOptions, sshPort = 0): GuestConfig => ({
  kernel: kernel.image,
  initramfs: image.initramfs,
  disks: [{ file: image.nodeDisk, mode: 'ro' }, ...(o.disks ?? [])],
  accel: o.accel,
  memoryMb: o.memoryMb,
  cpus: 1,
  hugepages: o.hugepages,
  sshPort,
  consoleLog: o.consoleLog,
  extraCmdline: o.extraCmdline,
});

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** How `now` differs from `base`, one phrase per pool ("2048kB free 62/64"); empty when equal. */
export function poolDrift(base: Pools, now: Pools): string[] {
  return Object.keys(base).flatMap((size) => {
    const a = base[size];
    const b = now[size] ?? { free: 0, rsvd: 0 };
    return [...(a.free !== b.free ? [`${size} free ${b.free}/${a.free}`] : []), ...(a.rsvd !== b.rsvd ? [`${size} rsvd ${b.rsvd}/${a.rsvd}`] : [])];
  });
}

/** The console from the first sign of trouble in its last 300 lines (at most 40 lines from
 * there), or its tail when nothing looks like trouble; the cases' announcements left out. */
export function consoleExcerpt(path: string, max = 40): string {
  const lines = consoleTail(path, 300)
    .split('\n')
    .map((l) => l.replace(/\r$/, ''))
    .filter((l) => !l.includes(CONSOLE_ANNOUNCEMENT));
  const first = lines.findIndex((l) => TROUBLE.test(l));
  return (first < 0 ? lines.slice(-25) : lines.slice(first, first + max)).join('\n');
}

/** The console file's size now (0 while there is none): where consoleFrom starts. */
export const consoleSize = (path: string): number => (existsSync(path) ? statSync(path).size : 0);

/** The console text written since `offset`. */
export function consoleFrom(path: string, offset: number): string {
  if (!existsSync(path)) return '';
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(Math.max(0, statSync(path).size - offset));
    const n = buf.length ? readSync(fd, buf, 0, buf.length, offset) : 0;
    return buf.toString('latin1', 0, n);
  } finally {
    closeSync(fd);
  }
}

export function consoleTail(path: string, lines = 15): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** What a failed boot shows beside its message: QEMU's stderr and the console's last lines. */
export function bootFailureDetail(stderr: string, consoleLog: string, restored = false): string {
  const con = consoleTail(consoleLog);
  const why = restored ? 'a restored guest prints nothing until /init goes on' : 'the kernel prints nothing before /init with quiet';
  const shown = con ? `console, last lines:\n${con}` : `console: empty so far (${why})`;
  return [stderr.trim(), shown].filter(Boolean).join('\n');
}

/** Resolves once `marker` shows in the console file QEMU writes, polled every `everyMs`.
 * The runner connects only then: slirp accepts a connection before the guest listens and keeps
 * knocking at the guest with it after the runner gave up on it, so probing early left dropbear
 * forking for stale connections while the suites ran. */
export async function waitForConsole(path: string, marker: string, deadline: number, alive: () => boolean, everyMs = 10): Promise<void> {
  const buf = Buffer.alloc(64 * 1024);
  let fd = -1;
  let offset = 0;
  let seen = '';
  try {
    while (Date.now() < deadline) {
      if (fd < 0 && existsSync(path)) fd = openSync(path, 'r');
      for (let n = fd >= 0 ? readSync(fd, buf, 0, buf.length, offset) : 0; n > 0; n = readSync(fd, buf, 0, buf.length, offset)) {
        offset += n;
        seen = (seen + buf.toString('latin1', 0, n)).slice(-(marker.length + buf.length));
        if (seen.includes(marker)) return;
      }
      if (!alive()) throw new InfraError('boot', 'QEMU exited before the guest answered SSH');
      await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new InfraError('boot', 'guest did not answer SSH before the boot timeout');
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

// mmatrix's own tests need a guest that never boots, on any machine speed: with
// MMATRIX_TEST_FAULT=boot-stopped QEMU starts with its CPU stopped (-S), so no timeout races a boot.
export const injectedBootFault = (env = process.env): string[] => (env.MMATRIX_TEST_FAULT === 'boot-stopped' ? ['-S'] : []);

/** What a run needs of a booted guest; the unit tests drive the run through fakes of it. */
export interface GuestHandle {
  readonly bootSeconds: number; // QEMU start to an authenticated SSH session
  readonly bannerSeconds: number; // QEMU start to dropbear's banner
  facts(): Promise<GuestFacts>;
  pools(): Promise<Pools>;
  ask(request: Request, opts: ExecOptions): Promise<ExecResult>;
  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult>;
  alive(): boolean;
  close(): Promise<void>;
}

async function restore(socket: string, state: string, deadline: number, alive: () => boolean): Promise<void> {
  const qmp = await Qmp.connect(socket, deadline, alive);
  try {
    await loadState(qmp, state, deadline);
  } finally {
    qmp.end();
  }
}

export class Guest implements GuestHandle {
  private ssh: Ssh | null = null;
  private server: Server | null = null; // the guest's node process, answering requests
  bootSeconds = 0; // QEMU start to an authenticated SSH session
  startedAt = 0; // performance.now() when QEMU was started
  bannerSeconds = 0; // QEMU start to dropbear's banner

  private constructor(
    readonly proc: ChildProcess,
    readonly config: GuestConfig,
  ) {}

  /** A guest booted, or restored from `o.snapshot`, up to an authenticated SSH session. */
  static async boot(kernel: Kernel, image: Image, o: GuestOptions): Promise<Guest> {
    const config = guestConfig(kernel, image, o, await freePort());
    rmSync(o.consoleLog, { force: true }); // waitForConsole must not read an earlier boot's
    const snap = o.snapshot;
    const qmpDir = snap ? mkdtempSync(join(tmpdir(), 'mmatrix-qmp-')) : '';
    const args = snap ? [...qemuArgs(snapshotConfig(config, SNAPSHOT_FLAG)), ...restoreArgs(config, snap, join(qmpDir, 'qmp'))] : qemuArgs(config);
    const t0 = Date.now();
    const proc = spawn(o.qemu ?? 'qemu-system-x86_64', [...args, ...injectedBootFault()], { stdio: ['ignore', 'ignore', 'pipe'] });
    track(proc);
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawnError = new Promise<never>((_, reject) => proc.once('error', (e) => reject(new InfraError('boot', `cannot start QEMU: ${e.message}`))));
    const g = new Guest(proc, config);
    g.startedAt = performance.now() - (Date.now() - t0);
    try {
      const alive = () => proc.exitCode === null && proc.signalCode === null;
      const deadline = t0 + o.bootTimeoutMs;
      if (snap) await Promise.race([restore(join(qmpDir, 'qmp'), snap.state, deadline, alive), spawnError]);
      else await Promise.race([waitForConsole(o.consoleLog, SSHD_STARTED, deadline, alive), spawnError]);
      const sock = await Promise.race([waitForBanner(config.sshPort, deadline, alive), spawnError]);
      g.bannerSeconds = (Date.now() - t0) / 1000;
      g.ssh = await Ssh.connect(config.sshPort, clientKey().privateKey, keyBlob(image.hostKey), undefined, sock);
      // A restored guest's clock says when the snapshot was made; /init waits for the time.
      if (snap) await g.exec(`echo ${Math.floor(Date.now() / 1000)} > ${SNAPSHOT_GO}`);
      g.bootSeconds = (Date.now() - t0) / 1000;
      return g;
    } catch (e) {
      g.kill();
      if (e instanceof InfraError) throw new InfraError(e.phase, e.message, bootFailureDetail(stderr, o.consoleLog, !!snap));
      throw e;
    } finally {
      if (qmpDir) rmSync(qmpDir, { recursive: true, force: true });
    }
  }

  exec(cmd: string, opts?: ExecOptions): Promise<ExecResult> {
    if (!this.ssh) throw new InfraError('ssh', 'guest is not connected');
    return this.ssh.exec(cmd, opts);
  }

  /** What the run and the fingerprint record of the guest. */
  facts(): Promise<GuestFacts> {
    return this.answer({ kind: 'facts' }, isFacts, 'the guest facts');
  }

  /** Each huge page pool's free and reserved pages, keyed by size ("2048kB"). */
  pools(): Promise<Pools> {
    return this.answer({ kind: 'pools' }, isPools, 'the huge page pools');
  }

  /** One request to the guest's node process (suites/main.ts), started on the first request
   * and again after it ended; resolves however the request ends. */
  async ask(request: Request, opts: ExecOptions): Promise<ExecResult> {
    if (!this.ssh) throw new InfraError('ssh', 'guest is not connected');
    if (!this.server?.alive) this.server = await this.ssh.serve(`cd ${GUEST_DIR} && exec node suites/main.js`);
    return this.server.ask(encodeRequest(request), opts);
  }

  /** A request whose answer is one JSON line that `guard` accepts. */
  private async answer<T>(request: Request, guard: (x: unknown) => x is T, what: string): Promise<T> {
    const r = await this.ask(request, { timeoutMs: 60_000 });
    const value = r.ended === 'exit' && r.code === 0 ? decodeAnswer(r.stdout, guard) : null;
    if (value === null) throw new InfraError('run', `reading ${what} failed (${r.ended}${r.code ? ` ${r.code}` : ''})`, `${r.stdout}${r.stderr}`.trim());
    return value;
  }

  async push(bundle: Buffer): Promise<void> {
    const r = await this.exec(`mkdir -p ${GUEST_DIR} && tar -x -C ${GUEST_DIR}`, { stdin: bundle });
    if (r.code !== 0) throw new InfraError('push', `unpacking the bundle failed: ${r.stderr.trim()}`);
  }

  /** End QEMU: SIGTERM, and SIGKILL if it has not exited within 5 s. Nothing in the guest
   * outlives it (its disks are snapshot overlays, the results came over SSH), so there is
   * nothing to shut down cleanly: a poweroff took 1.8 s under TCG, on the way to the report. */
  async close(): Promise<void> {
    this.server = null;
    this.ssh?.end();
    this.ssh = null;
    if (this.alive()) {
      this.proc.kill('SIGTERM');
      await this.waitExit(5000);
    }
    this.kill();
  }

  alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  kill(): void {
    this.ssh?.end();
    this.ssh = null;
    if (this.alive()) this.proc.kill('SIGKILL');
  }

  private waitExit(ms: number): Promise<void> {
    if (!this.alive()) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
