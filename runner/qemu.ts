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

// ---- snapshots (runner/snapshot.ts) ---------------------------------------------------------

/** A booted guest saved by QEMU: its RAM as a file, and the device state migration wrote. */
export interface Snapshot {
  ram: string;
  state: string;
}

/** Guest RAM in a file. While a snapshot is made it is written through (share=on: the file is
 * the RAM); each guest restored from it maps it copy-on-write (share=off: the file never
 * changes, and guests of one snapshot share its unwritten pages in the host's page cache). */
export const ramFileArgs = (c: GuestConfig, file: string, share: boolean) => [
  '-object',
  `memory-backend-file,id=ram,size=${c.memoryMb}M,mem-path=${file},share=${share ? 'on' : 'off'}`,
  '-machine',
  'memory-backend=ram',
];

/** A QMP monitor on a unix socket, which QEMU makes at start and never waits for. */
export const qmpArgs = (socket: string) => ['-qmp', `unix:${socket},server=on,wait=off`];

/** Migration without the RAM of shared memory backends: the RAM file holds it already, and the
 * state stays under a megabyte. Both the saving QEMU and the restoring one set it. */
export const IGNORE_SHARED = { capabilities: [{ capability: 'x-ignore-shared', state: true }] };

/** A migration URI through a shell command, the file quoted for /bin/sh. */
const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
export const saveUri = (file: string) => `exec:cat > ${shq(file)}`;
export const loadUri = (file: string) => `exec:cat ${shq(file)}`;

/** The guest made to be snapshotted, and each guest restored from it, run with the same
 * arguments: the command line only adds the flag /init stops at. */
export const snapshotConfig = (c: GuestConfig, flag: string): GuestConfig => ({
  ...c,
  extraCmdline: [c.extraCmdline, flag].filter(Boolean).join(' '),
});

/** A guest restored from `s`: QEMU waits for the state on the monitor (-incoming defer). */
export const restoreArgs = (c: GuestConfig, s: Snapshot, qmpSocket: string) => [...ramFileArgs(c, s.ram, false), ...qmpArgs(qmpSocket), '-incoming', 'defer'];
