// Kernel sources by name: `debian:<suite>`, `bzimage:<path>[,modules=<dir>]` and
// `src:<tree>[,patches=<mbox|dir>]` (built by srcbuild.ts), made
// ready to boot: the bootable image (vmlinux where it has a PVH entry), its release
// string and its modules folder with a fresh modules.dep.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, fileStamp, hashOf } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { userPath } from '../common/paths.js';
import { suggest } from '../common/suggest.js';
import { DEBIAN_SUITES, downloadDebian, resolveDebian, suiteOfVersion } from './debian.js';
import { buildFromSource, checkSrcSpec, parseSrcSpec, type SrcSpec } from './srcbuild.js';
import { bzImageRelease, extractVmlinux, hasPvhNote } from './vmlinux.js';

export type KernelSpec =
  | { kind: 'debian'; suite: string; version: string | null; text: string }
  | { kind: 'bzimage'; path: string; modules: string | null; text: string }
  | SrcSpec;

export interface Kernel {
  spec: string; // as the user named it
  id: string; // cache key: names this exact build
  version: string; // package version, or the file's stamp
  release: string; // uname -r
  image: string; // what QEMU boots
  pvh: boolean; // image is a vmlinux booted through its PVH entry
  modulesDir: string | null;
  config: string | null; // the build's .config, where it ships one (its hash goes into the fingerprint)
}

/** The one rule for where an unpacked kernel package keeps its files: the package root is
 * three folders above the modules (lib/modules/<release>) or four (usr/lib/modules/<release>,
 * trixie on), and a file is in the root's boot/ as `<name>-<release>` (≤ 6.12) or beside the
 * modules as `<name>` (7.x). */
export function packagedFile(modulesDir: string, release: string, name: 'vmlinuz' | 'config'): string | null {
  const boot = ['../../..', '../../../..'].map((up) => join(modulesDir, up, 'boot', `${name}-${release}`));
  return [...boot, join(modulesDir, name)].find((f) => existsSync(f)) ?? null;
}

/** Where a kernel keeps its .config: where the package rule says, or a build tree's. */
export function configOf(modulesDir: string | null, release: string): string | null {
  if (!modulesDir) return null;
  return packagedFile(modulesDir, release, 'config') ?? (existsSync(join(modulesDir, 'build/.config')) ? join(modulesDir, 'build/.config') : null);
}

export function parseKernelSpec(text: string): KernelSpec {
  const colon = text.indexOf(':');
  const kind = colon > 0 ? text.slice(0, colon) : '';
  const rest = text.slice(colon + 1);
  if (kind === 'debian') {
    if (rest in DEBIAN_SUITES) return { kind, suite: rest, version: null, text };
    // An exact package version (6.1.176-1): the suite whose kernel line it belongs to.
    const suite = /^\d/.test(rest) ? suiteOfVersion(rest) : null;
    if (!suite) {
      const hint = /^\d/.test(rest) ? '' : ` (did you mean debian:${suggest(rest, Object.keys(DEBIAN_SUITES), 1)[0]}?)`;
      throw new InputError(
        `unknown kernel '${text}'${hint}: use debian:<suite> (${Object.keys(DEBIAN_SUITES).join(', ')}) or debian:<package version> of one of their kernel lines (${Object.values(DEBIAN_SUITES).join(', ')})`,
      );
    }
    return { kind, suite, version: rest, text };
  }
  if (kind === 'bzimage') {
    const [path, ...opts] = rest.split(',');
    let modules: string | null = null;
    for (const o of opts) {
      if (o.startsWith('modules=')) modules = userPath(o.slice('modules='.length));
      else throw new InputError(`unknown option '${o}' in kernel '${text}' (known: modules=<dir>)`);
    }
    if (!path) throw new InputError(`kernel '${text}' names no file`);
    return { kind, path: userPath(path), modules, text };
  }
  if (kind === 'src') return parseSrcSpec(rest, text);
  throw new InputError(`unknown kernel '${text}': use debian:<suite>, bzimage:<path>[,modules=<dir>] or src:<tree>[,patches=<mbox|dir>]`);
}

interface Unpacked {
  release: string;
  image: string;
  pvh: boolean;
  modulesDir: string | null;
}

/** Write vmlinux beside a bzImage when one can be extracted and has a PVH entry. */
function bootable(bzImage: string, dir: string): { image: string; pvh: boolean } {
  const elf = extractVmlinux(readFileSync(bzImage));
  if (elf && hasPvhNote(elf)) {
    writeFileSync(join(dir, 'vmlinux'), elf);
    return { image: 'vmlinux', pvh: true };
  }
  return { image: 'bzImage', pvh: false };
}

export async function unpackDebian(debs: string[], dir: string): Promise<Unpacked> {
  const root = join(dir, 'root');
  mkdirSync(root);
  for (const d of debs) {
    const r = await $({ nothrow: true, quiet: true })`dpkg-deb -x ${d} ${root}`;
    if (r.exitCode !== 0) {
      // A truncated or corrupt download must not poison the cache: drop it, fetch it next time.
      rmSync(d, { force: true });
      throw new InputError(
        `${basename(d)} is not a readable .deb (${r.stderr.trim().split('\n').pop()}); removed it from the cache, the next run downloads it again`,
      );
    }
  }
  const modRoot = ['usr/lib/modules', 'lib/modules'].map((p) => join(root, p)).find(existsSync);
  if (!modRoot) throw new InputError('kernel package has no modules folder');
  const release = readdirSync(modRoot)[0];
  const modulesDir = join(modRoot, release);
  const vmlinuz = packagedFile(modulesDir, release, 'vmlinuz');
  if (!vmlinuz) throw new InputError(`kernel package for ${release} has no vmlinuz`);
  // depmod looks under <base>/lib/modules; the usr/lib layout needs a lib -> usr/lib link.
  if (!existsSync(join(root, 'lib'))) symlinkSync('usr/lib', join(root, 'lib'));
  await $({ quiet: true })`depmod -b ${root} ${release}`;
  await $`cp ${vmlinuz} ${join(dir, 'bzImage')}`;
  const { image, pvh } = bootable(join(dir, 'bzImage'), dir);
  return { release, image: join(dir, image), pvh, modulesDir };
}

function readMeta(dir: string): Unpacked {
  return JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as Unpacked;
}

async function prepareDebian(spec: Extract<KernelSpec, { kind: 'debian' }>, refresh: boolean, log: Log): Promise<Kernel> {
  const deb = await resolveDebian(spec.suite, refresh, log, spec.version);
  const id = `debian-${deb.abi}_${deb.version}`.replace(/[^\w.+~-]/g, '_');
  const dir = cachePath('kernels', id);
  if (!existsSync(dir)) {
    const debs = await downloadDebian(deb, log);
    log(`unpacking ${spec.text} ${deb.version}`);
    await buildOnce(dir, async (tmp) => {
      const u = await unpackDebian(debs, tmp);
      const rel = (p: string | null) => (p ? p.replace(tmp, dir) : null);
      writeFileSync(join(tmp, 'kernel.json'), JSON.stringify({ ...u, image: rel(u.image), modulesDir: rel(u.modulesDir) }));
    });
  }
  const meta = readMeta(dir);
  return { spec: spec.text, id, version: deb.version, ...meta, config: configOf(meta.modulesDir, meta.release) };
}

/** Check what a spec names before anything starts; returns the bzImage's release. */
export function checkKernelSpec(spec: KernelSpec): string | null {
  if (spec.kind === 'src') checkSrcSpec(spec);
  if (spec.kind !== 'bzimage') return null;
  if (!existsSync(spec.path)) throw new InputError(`kernel file ${spec.path} does not exist`);
  const release = bzImageRelease(spec.path);
  if (!release) throw new InputError(`${spec.path} is not a bzImage (no HdrS setup header)`);
  if (spec.modules && !existsSync(join(spec.modules, 'modules.order'))) {
    throw new InputError(`${spec.modules} is not a modules folder (no modules.order)`);
  }
  return release;
}

async function prepareBzImage(spec: Extract<KernelSpec, { kind: 'bzimage' }>): Promise<Kernel> {
  const fileRelease = checkKernelSpec(spec)!;
  const version = fileStamp(spec.path);
  const id = `bzimage-${hashOf([version, spec.modules ?? ''])}`;
  const dir = cachePath('kernels', id);
  await buildOnce(dir, async (tmp) => {
    await $`cp ${spec.path} ${join(tmp, 'bzImage')}`;
    const { image, pvh } = bootable(join(tmp, 'bzImage'), tmp);
    let modulesDir: string | null = null;
    if (spec.modules) {
      // A private copy, so depmod writes into the cache and never into the user's tree.
      const release = basename(spec.modules);
      const root = join(tmp, 'root');
      mkdirSync(join(root, 'lib/modules'), { recursive: true });
      await $`cp -a ${spec.modules} ${join(root, 'lib/modules', release)}`;
      await $({ quiet: true })`depmod -b ${root} ${release}`;
      modulesDir = join(dir, 'root/lib/modules', release);
    }
    const meta: Unpacked = { release: fileRelease, image: join(dir, image), pvh, modulesDir };
    writeFileSync(join(tmp, 'kernel.json'), JSON.stringify(meta));
  });
  const meta = readMeta(dir);
  return { spec: spec.text, id, version, ...meta, config: configOf(meta.modulesDir, meta.release) };
}

type Log = (line: string) => void;

export async function prepareKernel(text: string, refresh = false, log: Log = () => {}): Promise<Kernel> {
  const spec = parseKernelSpec(text);
  if (spec.kind === 'src') {
    checkSrcSpec(spec);
    const { id, built } = await buildFromSource(spec, refresh, log);
    return { spec: spec.text, id, ...built };
  }
  return spec.kind === 'debian' ? prepareDebian(spec, refresh, log) : prepareBzImage(spec);
}
