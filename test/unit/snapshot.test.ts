import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pruneSnapshots } from '../../runner/commands.js';
import { listSnapshots, snapshotFiles, snapshotKey, snapshotsDir } from '../../runner/snapshot.js';
import { testGuestConfig } from '../helpers/guestconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'mm-snap-'));
const file = (name: string) => {
  const p = join(dir, name);
  writeFileSync(p, name);
  return p;
};
const config = testGuestConfig(file);
const qemu = file('qemu-system-x86_64');

test('one snapshot per machine: the SSH port and console file are not part of it', (t) => {
  const key = snapshotKey(config, qemu);
  t.regex(key, /^[0-9a-f]{16}$/);
  t.is(snapshotKey({ ...config, sshPort: 50000, consoleLog: '/other/console.2.log' }, qemu), key);
  t.deepEqual(snapshotFiles('/c/snapshots/k'), { ram: '/c/snapshots/k/ram', state: '/c/snapshots/k/state' });
});

test('a machine that differs gets its own snapshot: memory, pools, command line, accelerator, disks', (t) => {
  const key = snapshotKey(config, qemu);
  const others = [
    { ...config, memoryMb: 4096 },
    { ...config, hugepages: 32 },
    { ...config, extraCmdline: 'hugepagesz=1G hugepages=2' },
    { ...config, accel: 'kvm' as const },
    { ...config, disks: config.disks.slice(0, 1) },
  ].map((c) => snapshotKey(c, qemu));
  t.is(new Set([key, ...others]).size, 6);
});

test('a file rebuilt in place, or another QEMU, makes a new snapshot', (t) => {
  const key = snapshotKey(config, qemu);
  writeFileSync(config.initramfs, 'initramfs.cpio, rebuilt');
  t.not(snapshotKey(config, qemu), key);
  const before = snapshotKey(config, qemu);
  utimesSync(qemu, new Date(), new Date(Date.now() + 60_000)); // a QEMU upgrade replaces the binary
  t.not(snapshotKey(config, qemu), before);
});

test('pruning: a snapshot whose machine lost a file goes, one whose files are all there stays (unless all)', (t) => {
  process.env.MMATRIX_CACHE = mkdtempSync(join(tmpdir(), 'mm-snapcache-'));
  const snap = (key: string, files: string[]) => {
    const d = join(snapshotsDir(), key);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'ram'), Buffer.alloc(8192, 1));
    writeFileSync(join(d, 'machine.json'), JSON.stringify({ files }));
    return d;
  };
  const kept = snap('aaaaaaaaaaaaaaaa', [config.kernel, config.initramfs]);
  const gone = snap('bbbbbbbbbbbbbbbb', [config.kernel, join(dir, 'an image pruned since')]);
  const making = join(snapshotsDir(), `cccccccccccccccc.tmp-${process.pid}`); // its maker runs
  mkdirSync(making);
  const interrupted = join(snapshotsDir(), 'dddddddddddddddd.tmp-999999999'); // no such process
  mkdirSync(interrupted);
  t.deepEqual(
    listSnapshots()
      .map((s) => [s.path, s.current])
      .sort(),
    [
      [kept, true],
      [gone, false],
      [interrupted, false],
    ].sort(),
  );
  const r = pruneSnapshots(false);
  t.is(r.count, 2);
  t.true(existsSync(making));
  t.false(existsSync(interrupted));
  t.true(r.bytes >= 8192);
  t.true(existsSync(kept));
  t.false(existsSync(gone));
  t.is(pruneSnapshots(true).count, 1);
  t.false(existsSync(kept));
});
