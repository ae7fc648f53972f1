import test from 'ava';
import { kvmCandidate } from '../../runner/accel.js';
import { accelArgs, cmdline, netArgs, qemuArgs, ramFileArgs, restoreArgs, snapshotConfig } from '../../runner/qemu.js';
import { testGuestConfig } from '../helpers/guestconfig.js';

const FAKE: Record<string, string> = { vmlinux: '/k/vmlinux', 'initramfs.cpio': '/i/initramfs.cpio', 'node.sqfs': '/i/node.sqfs', 'ext4.img': '/c/ext4.img' };
const config = testGuestConfig((name) => FAKE[name]);

test('TCG emulates -cpu max without ERMS; KVM passes the host CPU', (t) => {
  t.deepEqual(accelArgs('tcg'), ['-accel', 'tcg', '-cpu', 'max,-erms']);
  t.deepEqual(accelArgs('kvm'), ['-accel', 'kvm', '-cpu', 'host']);
});

test('the SSH forward listens on loopback only', (t) => {
  const net = netArgs(config).join(' ');
  t.regex(net, /hostfwd=tcp:127\.0\.0\.1:40022-:22/);
  t.regex(net, /romfile=(,|$| )/);
});

test('the command line asks /init for the pool and reboots (exits) on panic', (t) => {
  const c = cmdline(config);
  t.regex(c, /mmatrix\.hugepages=64/);
  t.regex(c, /panic=-1/);
  t.regex(c, /console=ttyS0/);
});

test('full argument list boots the kernel with the initramfs, console to a file, no reboot', (t) => {
  const a = qemuArgs(config);
  t.is(a[a.indexOf('-kernel') + 1], '/k/vmlinux');
  t.is(a[a.indexOf('-initrd') + 1], '/i/initramfs.cpio');
  t.is(a[a.indexOf('-serial') + 1], 'file:/r/console.log');
  t.true(a.includes('-no-reboot'));
  t.true(a.includes('-nodefaults'));
});

test('disks are attached over virtio without option ROMs: read-only, or scratch on a throw-away overlay', (t) => {
  const a = qemuArgs(config).join(' ');
  t.regex(a, /-drive file=\/i\/node\.sqfs,if=none,id=disk0,format=raw,readonly=on/);
  t.regex(a, /-device virtio-blk-pci,drive=disk0,romfile=/);
  t.regex(a, /-drive file=\/c\/ext4\.img,if=none,id=disk1,format=raw,snapshot=on /);
  t.notRegex(a, /ext4\.img[^ ]*readonly/);
});

test('KVM needs a vmx/svm flag', (t) => {
  t.regex(kvmCandidate('flags\t\t: fpu vme de pse\n') ?? '', /no vmx\/svm/);
});

test('a snapshot: RAM written through a file while made, mapped copy-on-write when restored', (t) => {
  t.deepEqual(ramFileArgs(config, '/c/s/ram', true), [
    '-object',
    'memory-backend-file,id=ram,size=1536M,mem-path=/c/s/ram,share=on',
    '-machine',
    'memory-backend=ram',
  ]);
  const restore = restoreArgs(config, { ram: '/c/s/ram', state: '/c/s/state' }, '/t/qmp').join(' ');
  t.regex(restore, /mem-path=\/c\/s\/ram,share=off/);
  t.regex(restore, /-qmp unix:\/t\/qmp,server=on,wait=off/);
  t.regex(restore, /-incoming defer$/);
  // The guest made and its restores differ only by the flag /init stops at.
  const made = snapshotConfig({ ...config, extraCmdline: 'hugepagesz=1G hugepages=2' }, 'mmatrix.snapshot=1');
  t.regex(cmdline(made), / hugepagesz=1G hugepages=2 mmatrix\.snapshot=1$/);
  t.regex(cmdline(snapshotConfig(config, 'mmatrix.snapshot=1')), / mmatrix\.hugepages=64 mmatrix\.snapshot=1$/);
});
