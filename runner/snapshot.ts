// A kernel's guest booted once and saved by QEMU, then restored for every guest of a run: a
// restore reaches SSH in a fraction of a boot, and node's pages are already read. The guest is
// saved where /init stops for it (images/init.sh): sshd running, node started once, the
// scratch and swap disks not yet written, so each restored guest's fresh disk overlays are
// what its kernel expects. The snapshot is a cache entry named by everything that makes the
// machine: QEMU's arguments, the files they name, and the QEMU binary.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, fileStamp, hashOf } from '../common/cache.js';
import { InfraError } from '../common/errors.js';
import { track } from '../common/procs.js';
import { SNAPSHOT_FLAG, SNAPSHOT_POINT } from '../guest/protocol.js';
import { bootFailureDetail, freePort, injectedBootFault, waitForConsole } from './guest.js';
import { findQemu } from './preflight.js';
import { type GuestConfig, qemuArgs, qmpArgs, ramFileArgs, type Snapshot, snapshotConfig } from './qemu.js';
import { Qmp, saveState } from './qmp.js';

const SNAPSHOT_VERSION = 1;
const QEMU = 'qemu-system-x86_64';

/** The cache entry of a machine: its arguments without the SSH port and console file, which
 * differ per guest, and the identity of every file they name. */
export function snapshotKey(c: GuestConfig, qemuBinary: string): string {
  const args = machineOf(c);
  const files = [...machineFiles(c), qemuBinary].map(fileStamp);
  return hashOf([SNAPSHOT_VERSION, ...args, ...files]);
}

/** QEMU's arguments of every guest of the machine `c`: its own SSH port and console file left out. */
const machineOf = (c: GuestConfig) => qemuArgs({ ...c, sshPort: 0, consoleLog: '' });
const machineFiles = (c: GuestConfig) => [c.kernel, c.initramfs, ...c.disks.map((d) => d.file)];

/** Where the snapshots are; each folder's machine.json names the files its machine used. */
export const snapshotsDir = () => cachePath('snapshots');

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** The cached snapshots, and whether every file their machine used is still there; a half-made
 * one whose maker is gone (an interrupted run) is not current. */
export function listSnapshots(): { path: string; current: boolean }[] {
  const dir = snapshotsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((d) => {
    const path = join(dir, d);
    const half = /^[0-9a-f]{16}\.tmp-(\d+)$/.exec(d);
    if (half) return running(Number(half[1])) ? [] : [{ path, current: false }];
    if (!/^[0-9a-f]{16}$/.test(d)) return [];
    try {
      const m = JSON.parse(readFileSync(join(path, 'machine.json'), 'utf8')) as { files: string[] };
      return [{ path, current: m.files.every((f) => existsSync(f)) }];
    } catch {
      return [{ path, current: false }];
    }
  });
}

export const snapshotFiles = (dir: string): Snapshot => ({ ram: join(dir, 'ram'), state: join(dir, 'state') });

/** The snapshot of the machine `c`, made now unless cached (true: made by this call). */
export async function snapshotOf(c: GuestConfig, bootTimeoutMs: number): Promise<{ snapshot: Snapshot; made: boolean }> {
  const dir = join(snapshotsDir(), snapshotKey(c, findQemu(QEMU)));
  const made = await buildOnce(dir, (tmp) => makeSnapshot(c, tmp, bootTimeoutMs));
  return { snapshot: snapshotFiles(dir), made };
}

/** Boots the machine with its RAM in `dir`/ram, waits for /init's snapshot point, and has QEMU
 * write the device state to `dir`/state and end. */
async function makeSnapshot(c: GuestConfig, dir: string, bootTimeoutMs: number): Promise<void> {
  const files = snapshotFiles(dir);
  const config = snapshotConfig({ ...c, sshPort: await freePort(), consoleLog: join(dir, 'console.log') }, SNAPSHOT_FLAG);
  const qmpDir = mkdtempSync(join(tmpdir(), 'mmatrix-qmp-')); // a socket's path has at most 107 bytes
  const socket = join(qmpDir, 'qmp');
  const proc = spawn(QEMU, [...qemuArgs(config), ...ramFileArgs(config, files.ram, true), ...qmpArgs(socket), ...injectedBootFault()], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  track(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + bootTimeoutMs;
  try {
    await waitForConsole(config.consoleLog, SNAPSHOT_POINT, deadline, alive);
    const qmp = await Qmp.connect(socket, deadline, alive);
    await saveState(qmp, files.state, deadline);
    qmp.end();
    await exited;
  } catch (e) {
    if (alive()) proc.kill('SIGKILL');
    if (!(e instanceof InfraError)) throw e;
    throw new InfraError(e.phase, `${e.message} (booting the guest to snapshot)`, bootFailureDetail(stderr, config.consoleLog));
  } finally {
    rmSync(qmpDir, { recursive: true, force: true });
  }
  // What `mmatrix images prune` reads: a snapshot whose files are gone is of no use.
  writeFileSync(join(dir, 'machine.json'), `${JSON.stringify({ files: machineFiles(c), args: machineOf(c) }, null, 2)}\n`);
  // The pages the guest never wrote are holes already; those it wrote zeros into become holes.
  await $({ quiet: true, nothrow: true })`fallocate --dig-holes ${files.ram}`;
}
