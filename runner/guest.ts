// One guest: start QEMU, wait for SSH, push the bundle, run suites, power off.
// QEMU never outlives the Guest: close() kills it, and procs.ts kills it at exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Image } from '../images/initramfs.js';
import type { Kernel } from '../images/kernel.js';
import { clientKey, keyBlob } from '../images/keys.js';
import { GUEST_DIR } from './bundle.js';
import { InfraError } from './errors.js';
import { track } from './procs.js';
import { qemuArgs, type Accel, type GuestConfig } from './qemu.js';
import { Ssh, waitForBanner, type ExecResult } from './ssh.js';

export interface GuestOptions {
  accel: Accel;
  memoryMb: number;
  hugepages: number;
  bootTimeoutMs: number;
  consoleLog: string;
  qemu?: string;
}

export interface GuestFacts {
  release: string;
  hugePageKb: number;
  hugepagesObtained: number;
  thp: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export function consoleTail(path: string, lines = 15): string {
  if (!existsSync(path)) return '';
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

export class Guest {
  private ssh: Ssh | null = null;
  bootSeconds = 0; // QEMU start to an authenticated SSH session
  bannerSeconds = 0; // QEMU start to dropbear's banner

  private constructor(
    readonly proc: ChildProcess,
    readonly config: GuestConfig,
  ) {}

  static async boot(kernel: Kernel, image: Image, o: GuestOptions): Promise<Guest> {
    const config: GuestConfig = {
      kernel: kernel.image,
      initramfs: image.initramfs,
      disks: [image.nodeDisk],
      accel: o.accel,
      memoryMb: o.memoryMb,
      cpus: 1,
      hugepages: o.hugepages,
      sshPort: await freePort(),
      consoleLog: o.consoleLog,
    };
    const t0 = Date.now();
    const proc = spawn(o.qemu ?? 'qemu-system-x86_64', qemuArgs(config), { stdio: ['ignore', 'ignore', 'pipe'] });
    track(proc);
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const spawnError = new Promise<never>((_, reject) =>
      proc.once('error', (e) => reject(new InfraError('boot', `cannot start QEMU: ${e.message}`))),
    );
    const g = new Guest(proc, config);
    try {
      const alive = () => proc.exitCode === null && proc.signalCode === null;
      await Promise.race([waitForBanner(config.sshPort, t0 + o.bootTimeoutMs, alive), spawnError]);
      g.bannerSeconds = (Date.now() - t0) / 1000;
      g.ssh = await Ssh.connect(config.sshPort, clientKey().privateKey, keyBlob(image.hostKey));
      g.bootSeconds = (Date.now() - t0) / 1000;
      return g;
    } catch (e) {
      g.kill();
      if (e instanceof InfraError) {
        const tail = [stderr.trim(), consoleTail(o.consoleLog)].filter(Boolean).join('\n');
        throw new InfraError(e.phase, e.message, tail);
      }
      throw e;
    }
  }

  exec(cmd: string, opts?: { stdin?: Buffer; timeoutMs?: number }): Promise<ExecResult> {
    if (!this.ssh) throw new InfraError('ssh', 'guest is not connected');
    return this.ssh.exec(cmd, opts);
  }

  async facts(): Promise<GuestFacts> {
    const r = await this.exec(
      'uname -r; cat /proc/sys/vm/nr_hugepages; sed -n "s/^Hugepagesize: *\\([0-9]*\\).*/\\1/p" /proc/meminfo; cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo none',
    );
    const [release, obtained, hp, thp] = r.stdout.trim().split('\n');
    const mode = /\[(\w+)\]/.exec(thp ?? '')?.[1] ?? 'none';
    return { release, hugepagesObtained: Number(obtained) || 0, hugePageKb: Number(hp) || 0, thp: mode };
  }

  async push(bundle: Buffer): Promise<void> {
    const r = await this.exec(`mkdir -p ${GUEST_DIR} && tar -x -C ${GUEST_DIR}`, { stdin: bundle });
    if (r.code !== 0) throw new InfraError('push', `unpacking the bundle failed: ${r.stderr.trim()}`);
  }

  /** Power off and wait for QEMU to exit; kill it if it does not within 5 s. */
  async close(): Promise<void> {
    if (this.ssh && this.alive()) {
      this.ssh.exec('poweroff -f', { timeoutMs: 2000 }).catch(() => undefined);
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
