// The guest configuration the unit tests build QEMU command lines from: a 6.1-like TCG guest
// with node's disk and the scratch ext4 disk. `path` places its files (the snapshot tests need
// them on disk).
import type { GuestConfig } from '../../runner/qemu.js';

export const testGuestConfig = (path: (name: string) => string): GuestConfig => ({
  kernel: path('vmlinux'),
  initramfs: path('initramfs.cpio'),
  disks: [
    { file: path('node.sqfs'), mode: 'ro' },
    { file: path('ext4.img'), mode: 'scratch' },
  ],
  accel: 'tcg',
  memoryMb: 1536,
  cpus: 1,
  hugepages: 64,
  sshPort: 40022,
  consoleLog: '/r/console.log',
});
