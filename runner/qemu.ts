// QEMU command lines from small pure functions, one concern each.

export type Accel = 'kvm' | 'tcg';

/** Guest defaults shared by `run` and `bench`. */
export const GUEST_DEFAULTS = { memoryMb: 1536, hugepages: 64, bootTimeoutS: 120 } as const;

/** A raw image: read-only, or a scratch disk whose writes go to a throw-away overlay. */
export interface Disk {
  file: string;
  mode: 'ro' | 'scratch';
}

export interface GuestConfig {
  kernel: string; // vmlinux (PVH) or bzImage
  initramfs: string;
  disks: Disk[]; // raw images attached as virtio disks, /dev/vda first
  accel: Accel;
  memoryMb: number;
  cpus: number;
  hugepages: number; // 2 MiB pool /init asks for
  sshPort: number; // host side of the forward, on 127.0.0.1
  consoleLog: string;
  extraCmdline?: string;
}

/** The accelerator; TCG emulates a CPU with every feature QEMU knows (-cpu max) but ERMS.
 * TCG runs a rep string instruction one iteration at a time, and with ERMS the kernel clears
 * and copies pages with rep stosb/movsb, 4096 iterations a page; without it, rep stosq or
 * plain stores, 512: faulting in a huge page costs much less (docs/figures.md). */
export const accelArgs = (a: Accel) => (a === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max,-erms']);

/** No default devices, no option ROMs to run, no user config: less to boot. */
export const machineArgs = (c: GuestConfig) => [
  '-machine',
  'pc',
  '-nodefaults',
  '-no-user-config',
  '-display',
  'none',
  '-m',
  String(c.memoryMb),
  '-smp',
  String(c.cpus),
];

// quiet and the test-skipping flags save boot time under TCG; acpi=noirq routes PCI interrupts
// without evaluating ACPI link objects, which costs per virtio device (docs/figures.md); panic=-1 reboots on a panic,
// which -no-reboot turns into QEMU exiting, so a dead kernel is seen at once; printk.devkmsg=on
// lets the guest announce every case on the console through /dev/kmsg (guest/kmsg.ts), which by
// default keeps ten lines in five seconds.
export const BASE_CMDLINE =
  'console=ttyS0 quiet acpi=noirq mitigations=off tsc=reliable no_timer_check cryptomgr.notests init_on_alloc=0 panic=-1 printk.devkmsg=on';

export const cmdline = (c: GuestConfig) => [BASE_CMDLINE, `mmatrix.hugepages=${c.hugepages}`, c.extraCmdline ?? ''].filter(Boolean).join(' ');

export const bootArgs = (c: GuestConfig) => ['-kernel', c.kernel, '-initrd', c.initramfs, '-append', cmdline(c), '-no-reboot'];

/** User networking; the SSH forward listens on loopback only. */
export const netArgs = (c: GuestConfig) => ['-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${c.sshPort}-:22`, '-device', 'virtio-net-pci,netdev=net0,romfile='];

/** Each disk with a 64-entry queue instead of 256. Until "virtio-blk: avoid preallocating big
 * SGL for data" (2021, after 5.10) virtio_blk gave each of the queue's requests a scatterlist
 * of seg_max entries (queue size - 2) and cleared it at init: 256 × 254 × 32 bytes, ~2 MB a
 * disk. Under TCG 5.10's module step went 0.23 → 0.17 s (/init's stamps, medians of 5). */
export const diskArgs = (c: GuestConfig) =>
  c.disks.flatMap((d, i) => [
    '-drive',
    `file=${d.file},if=none,id=disk${i},format=raw,${d.mode === 'ro' ? 'readonly=on' : 'snapshot=on'}`,
    '-device',
    `virtio-blk-pci,drive=disk${i},romfile=,queue-size=64`,
  ]);

export const consoleArgs = (c: GuestConfig) => ['-serial', `file:${c.consoleLog}`, '-monitor', 'none'];

export function qemuArgs(c: GuestConfig): string[] {
  return [...accelArgs(c.accel), ...machineArgs(c), ...bootArgs(c), ...netArgs(c), ...diskArgs(c), ...consoleArgs(c)];
}
