// The guest image: an uncompressed initramfs (gzip doubles the boot time under TCG)
// holding busybox and dropbear (both static), the kernel's modules, and /init; node and its
// libraries sit on an uncompressed read-only squashfs the guest mounts from a virtio disk,
// so the kernel does not copy them out of the cpio at boot (slow under TCG: docs/figures.md)
// and node pages in only what it touches. That disk is the same for every kernel: it is
// built once, named by the node binary it holds, and every image attaches it. Built as
// named steps, cached by a hash of all inputs.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, fileStamp, hashOf } from '../common/cache.js';
import { fromRoot } from '../common/paths.js';
import { staticDropbear } from './dropbear.js';
import type { Kernel } from './kernel.js';
import { clientKey, makeHostKey } from './keys.js';
import { GUEST_MODULES, guestModules, guestModulesDep, LATE_MODULES, loadsUnsigned, modName, withoutSignature } from './modules.js';

const BUILDER_VERSION = 8;
const NODE_DISK_VERSION = 2;
/** Where /init mounts node's disk. */
const NODE_MOUNT = '/opt/node';
/** What /init mounts, with one `mount -a` each: before the modules load, and after (node's
 * disk needs virtio_blk and squashfs; /dev/pts and /dev/shm need their directories in devtmpfs). */
export const FSTABS = {
  'etc/fstab.early': [
    'proc /proc proc defaults',
    'sysfs /sys sysfs defaults',
    'devtmpfs /dev devtmpfs defaults',
    'tmpfs /tmp tmpfs defaults',
    'hugetlbfs /mnt/huge hugetlbfs defaults',
  ],
  'etc/fstab': ['devpts /dev/pts devpts defaults', 'tmpfs /dev/shm tmpfs defaults', `/dev/vda ${NODE_MOUNT} squashfs ro`],
};

export interface ImageInputs {
  busybox: string;
  dropbear: string;
  node: string;
}

/** What the image takes from the host; dropbear is built (images/dropbear.ts). */
export const HOST_BINARIES: Omit<ImageInputs, 'dropbear'> = {
  busybox: '/bin/busybox',
  node: process.execPath,
};

export interface Image {
  dir: string;
  initramfs: string;
  nodeDisk: string; // squashfs holding node, shared by every image, attached read-only
  hostKey: string; // public line to pin
  built: boolean; // built by this call (false: cache hit)
}

/** Shared libraries of a dynamic binary, from ldd (the loader included). */
export function parseLdd(out: string): string[] {
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

function copyInto(stage: string, src: string, dest = src): void {
  const to = join(stage, dest);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(src, to);
  chmodSync(to, 0o755);
}

/** An uncompressed newc cpio of `stage`, owned by root, in a stable order. */
export async function packCpio(stage: string, out: string): Promise<void> {
  await $({ cwd: stage, quiet: true })`find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet > ${out}`;
}

const steps = {
  makeBaseLayout(stage: string) {
    const mountPoints = ['proc', 'sys', 'dev', 'tmp', 'mnt/huge', 'mnt/huge1g', 'mnt/ext4', NODE_MOUNT.slice(1)];
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc/dropbear', 'run', 'root/.ssh', 'lib/modules', 'var/log', ...mountPoints]) {
      mkdirSync(join(stage, d), { recursive: true });
    }
    for (const [file, lines] of Object.entries(FSTABS)) writeFileSync(join(stage, file), lines.map((l) => `${l} 0 0\n`).join(''));
    symlinkSync(`${NODE_MOUNT}/node`, join(stage, 'usr/bin/node'));
    chmodSync(join(stage, 'root'), 0o700);
    chmodSync(join(stage, 'root/.ssh'), 0o700);
    writeFileSync(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(join(stage, 'etc/group'), 'root:x:0:\n');
    writeFileSync(join(stage, 'etc/shells'), '/bin/sh\n');
  },
  /** busybox, and a link in /bin for each of its applets, made here rather than by `busybox
   * --install` in /init: that was an exec and ~270 symlink calls at every boot. */
  async installBusybox(stage: string, busybox: string) {
    copyInto(stage, busybox, 'bin/busybox');
    const applets = (await $({ quiet: true })`${busybox} --list`).stdout.split('\n').filter(Boolean);
    for (const applet of new Set(['sh', ...applets])) if (applet !== 'busybox') symlinkSync('busybox', join(stage, 'bin', applet));
  },
  /** A link at each of node's libraries' own paths in the initramfs to where the guest mounts
   * node's disk: the kernel copies every byte of the cpio at boot, and nothing before sshd needs these. */
  linkLibraries(stage: string, libs: string[]) {
    for (const lib of libs) {
      mkdirSync(dirname(join(stage, lib)), { recursive: true });
      symlinkSync(join(NODE_MOUNT, 'lib', basename(lib)), join(stage, lib));
    }
  },
  async packSquashfs(dir: string, out: string) {
    // Uncompressed (-no*): decompressing under TCG would cost more than reading.
    await $({ quiet: true })`mksquashfs ${dir} ${out} -noI -noD -noF -noX -no-xattrs -all-root -quiet`;
  },
  /** The kernel's modules go in the initramfs (the late ones, the scratch disk's, are 3 MB of
   * 7.3's: ~40 ms of copying at boot under TCG, against a disk of their own per kernel); a
   * modules.dep for busybox modprobe names them, and /init loads each set with one process
   * (etc/modules.early before sshd, etc/modules.late after: the names it is given).
   * Signatures come off where the kernel allows it (loadsUnsigned). */
  async installModules(stage: string, kernel: Kernel) {
    const dir = kernel.modulesDir;
    const order = dir ? guestModules(dir) : [];
    const unsign = loadsUnsigned(kernel.config ? readFileSync(kernel.config, 'utf8') : null);
    const modDir = join(stage, 'lib/modules', kernel.release);
    mkdirSync(modDir, { recursive: true });
    const file = (rel: string) => basename(rel).replace(/\.(xz|zst|gz)$/, '');
    for (const rel of order) {
      const src = join(dir!, rel);
      const out = join(modDir, file(rel));
      // busybox modprobe reads plain .ko only: decompress on the host.
      if (rel.endsWith('.xz')) await $`xz -dc ${src} > ${out}`;
      else if (rel.endsWith('.zst')) await $`zstd -dcq ${src} -o ${out}`;
      else if (rel.endsWith('.gz')) await $`gzip -dc ${src} > ${out}`;
      else copyFileSync(src, out);
      if (unsign) writeFileSync(out, withoutSignature(readFileSync(out)));
    }
    const dep = dir ? readFileSync(join(dir, 'modules.dep'), 'utf8') : '';
    writeFileSync(join(modDir, 'modules.dep'), guestModulesDep(dep, order, file));
    const shipped = new Set(order.map(modName));
    const names = (late: boolean) => GUEST_MODULES.filter((m) => shipped.has(m) && LATE_MODULES.includes(m) === late).join(' ');
    writeFileSync(join(stage, 'etc/modules.early'), `${names(false)}\n`);
    writeFileSync(join(stage, 'etc/modules.late'), `${names(true)}\n`);
  },
  installSsh(stage: string, authorizedKey: string) {
    writeFileSync(join(stage, 'root/.ssh/authorized_keys'), `${authorizedKey}\n`, { mode: 0o600 });
    return makeHostKey(join(stage, 'etc/dropbear/host_key'));
  },
  installInit(stage: string) {
    copyInto(stage, fromRoot('images/init.sh'), 'init');
  },
  pack: packCpio,
};

export function imageKey(kernel: Kernel, bins: ImageInputs, authorizedKey: string): string {
  return hashOf([
    BUILDER_VERSION,
    kernel.id,
    fileStamp(bins.busybox),
    fileStamp(bins.dropbear),
    fileStamp(bins.node),
    readFileSync(fromRoot('images/init.sh'), 'utf8'),
    JSON.stringify(FSTABS),
    GUEST_MODULES.join(','),
    authorizedKey,
  ]);
}

/** node and its libraries on a squashfs: one disk for every image, named by node's path, size
 * and modification time (as the images are; its libraries come along with it, so the disk
 * stays consistent whatever the host's libraries do later). A cache hit reads libs.json. */
export async function buildNodeDisk(node: string): Promise<{ file: string; libs: string[] }> {
  const dir = cachePath('nodedisk', hashOf([NODE_DISK_VERSION, fileStamp(node)]));
  await buildOnce(dir, async (tmp) => {
    const libs = parseLdd((await $({ quiet: true })`ldd ${node}`).stdout);
    const disk = join(tmp, 'nodefs');
    copyInto(disk, node, 'node');
    // Symbols are of no use in the guest; node loses 12 MB.
    await $({ quiet: true, nothrow: true })`strip --strip-unneeded ${join(disk, 'node')}`;
    for (const lib of libs) copyInto(disk, lib, join('lib', basename(lib)));
    await steps.packSquashfs(disk, join(tmp, 'node.sqfs'));
    await $`rm -rf ${disk}`;
    writeFileSync(join(tmp, 'libs.json'), JSON.stringify(libs));
  });
  return { file: join(dir, 'node.sqfs'), libs: JSON.parse(readFileSync(join(dir, 'libs.json'), 'utf8')) as string[] };
}

export async function buildImage(kernel: Kernel, given?: ImageInputs): Promise<Image> {
  const bins = given ?? { ...HOST_BINARIES, dropbear: await staticDropbear() };
  for (const [what, path] of Object.entries(bins)) {
    if (!existsSync(path)) throw new Error(`${what} not found at ${path}; run \`make deps\``);
  }
  const key = clientKey();
  const node = await buildNodeDisk(bins.node);
  const dir = cachePath('images', `${kernel.id}-${imageKey(kernel, bins, key.publicLine)}`);
  const built = await buildOnce(dir, async (tmp) => {
    const stage = join(tmp, 'stage');
    steps.makeBaseLayout(stage);
    await steps.installBusybox(stage, bins.busybox);
    copyInto(stage, bins.dropbear, 'sbin/dropbear');
    steps.linkLibraries(stage, node.libs);
    await steps.installModules(stage, kernel);
    const hostKey = await steps.installSsh(stage, key.publicLine);
    steps.installInit(stage);
    await steps.pack(stage, join(tmp, 'initramfs.cpio'));
    writeFileSync(join(tmp, 'image.json'), JSON.stringify({ hostKey, kernel: kernel.id }));
    await $`rm -rf ${stage}`;
  });
  const meta = JSON.parse(readFileSync(join(dir, 'image.json'), 'utf8')) as { hostKey: string };
  return { dir, initramfs: join(dir, 'initramfs.cpio'), nodeDisk: node.file, hostKey: meta.hostKey, built };
}
