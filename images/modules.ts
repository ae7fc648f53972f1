// Kernel modules the guest needs, resolved through modules.dep into load order.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** What the guest loads, when the kernel has it as a module: virtio networking, the virtio
 * disk with the squashfs that holds node, and ext4 for the scratch disk (before 6.15 ext4
 * asks the crypto API for crc32c at mount, whatever the filesystem's features). */
export const GUEST_MODULES = ['virtio_pci', 'virtio_net', 'virtio_blk', 'squashfs', 'crc32c_generic', 'ext4'];
/** Wanted but not required: without ext4 the ext4 memory types skip with a reason. */
export const OPTIONAL_MODULES = new Set(['ext4', 'crc32c_generic']);
/** Loaded after sshd is up, in the background (/init's scratch-disk step): nothing before SSH needs them. */
export const LATE_MODULES = ['crc32c_generic', 'ext4'];

export const modName = (path: string) =>
  basename(path)
    .replace(/\.ko(\.(xz|zst|gz))?$/, '')
    .replace(/-/g, '_');

/** Parse modules.dep text into name → {path, deps}. */
export function parseModulesDep(text: string): Map<string, { path: string; deps: string[] }> {
  const m = new Map<string, { path: string; deps: string[] }>();
  for (const line of text.split('\n')) {
    const [path, rest] = line.split(':');
    if (!path || rest === undefined) continue;
    m.set(modName(path), { path, deps: rest.trim().split(/\s+/).filter(Boolean) });
  }
  return m;
}

/** Module files (relative to the modules dir) in an order insmod can load them. */
export function loadOrder(dep: string, builtin: string, wanted: string[]): string[] {
  const mods = parseModulesDep(dep);
  const builtins = new Set(builtin.split('\n').filter(Boolean).map(modName));
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const m = mods.get(name);
    if (!m) return;
    for (const d of m.deps) visit(modName(d));
    order.push(m.path);
  };
  for (const w of wanted) {
    if (!mods.has(w) && !builtins.has(w) && !OPTIONAL_MODULES.has(w)) throw new Error(`kernel has no ${w}, neither built in nor as a module`);
    visit(w);
  }
  return order;
}

export function guestModules(modulesDir: string, wanted = GUEST_MODULES): string[] {
  const read = (f: string) => (existsSync(join(modulesDir, f)) ? readFileSync(join(modulesDir, f), 'utf8') : '');
  return loadOrder(read('modules.dep'), read('modules.builtin'), wanted);
}

/** modules.dep for the guest's busybox modprobe: each shipped module (`order`) at the path
 * `at` gives it in the guest, then its dependencies in depmod's order. */
export function guestModulesDep(dep: string, order: string[], at: (rel: string) => string): string {
  const mods = parseModulesDep(dep);
  return order.map((rel) => `${[`${at(rel)}:`, ...(mods.get(modName(rel))?.deps ?? []).map(at)].join(' ')}\n`).join('');
}

// What the kernel appends to a signed module (include/linux/module.h MODULE_SIG_STRING), after
// struct module_signature (include/linux/module_signature.h: 12 bytes, the signature's length last, big-endian).
const SIG_MARK = Buffer.from('~Module signature appended~\n');
const SIG_INFO = 12;

/** The module without its appended signature; as it is when it has none. The kernel checks a
 * signature by hashing the whole module (kernel/module/signing.c), which costs ~10 ms a module
 * under TCG; an unsigned one loads unchecked and taints the kernel with E (unsigned module). */
export function withoutSignature(ko: Buffer): Buffer {
  if (ko.length < SIG_MARK.length + SIG_INFO || !ko.subarray(ko.length - SIG_MARK.length).equals(SIG_MARK)) return ko;
  const sigLen = ko.readUInt32BE(ko.length - SIG_MARK.length - 4);
  const end = ko.length - SIG_MARK.length - SIG_INFO - sigLen;
  return end > 0 ? ko.subarray(0, end) : ko;
}

/** Whether the kernel loads a module without a signature: its .config is known, and it neither
 * enforces signatures nor locks itself down (either refuses an unsigned module). */
export function loadsUnsigned(config: string | null): boolean {
  if (config === null) return false;
  return !/^CONFIG_(MODULE_SIG_FORCE|LOCK_DOWN_KERNEL_FORCE_(INTEGRITY|CONFIDENTIALITY))=y$/m.test(config);
}
