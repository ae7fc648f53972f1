// The kernel's own mm selftests, built from a kernel's source tree: Debian's linux-source
// package for `debian:` kernels, the tree (and its patches) for `src:`, or one tree for every
// kernel (`--from-tree`). The tree's own Makefiles do the work: `make headers` in a private
// copy (hard links: the tree is never written), then each chosen test statically
// (`LDFLAGS=-static`), one make per test so one that does not build leaves the others. The
// binaries are cached by tree + patches + test list + compiler: a second run builds nothing.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, hashOf } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { userPath } from '../common/paths.js';
import { step } from './buildstep.js';
import { DEBIAN_SUITES } from './debian.js';
import { parseKernelSpec } from './kernel.js';
import { debianTree, patchFiles, preparedCopy, treeIdentity } from './srcbuild.js';

type Log = (line: string) => void;

export interface SelftestTree {
  path: string; // the source tree (never written)
  identity: string; // linux-source-6.1=6.1.176-1, git:<hash>, or a hash of the files
  git: string | null;
  patches: string[];
  version: string; // the tree's VERSION.PATCHLEVEL: 6.1
}

export interface SelftestBuild {
  dir: string; // the cached binaries, one file per test
  tree: string; // the tree's identity, with its patches
  version: string;
  subdir: 'mm' | 'vm'; // tools/testing/selftests/<subdir>: vm until 6.2
  built: string[];
  failed: Record<string, string>; // test → why it did not build (or that the tree has no such test)
  seconds: number; // how long the build took when it was made
}

/** The tree's VERSION.PATCHLEVEL from its top Makefile. */
export function treeVersion(makefile: string): string {
  const v = /^VERSION = (\d+)/m.exec(makefile)?.[1];
  const p = /^PATCHLEVEL = (\d+)/m.exec(makefile)?.[1];
  return v && p ? `${v}.${p}` : 'unknown';
}

async function plainTree(path: string, patches: string[] = []): Promise<SelftestTree> {
  if (!existsSync(join(path, 'Makefile')) || !existsSync(join(path, 'tools/testing/selftests'))) {
    throw new InputError(`${path} is not a kernel source tree with selftests (no Makefile and tools/testing/selftests)`);
  }
  const { identity, git } = await treeIdentity(path);
  return { path, identity, git, patches, version: treeVersion(readFileSync(join(path, 'Makefile'), 'utf8')) };
}

async function debianSelftestTree(suite: string, refresh: boolean, log: Log): Promise<SelftestTree> {
  const { tree, identity } = await debianTree(suite, refresh, log);
  return { path: tree, identity, git: null, patches: [], version: treeVersion(readFileSync(join(tree, 'Makefile'), 'utf8')) };
}

/** The tree `--from-tree` names: debian:<suite>, or a kernel source folder. */
export async function fromTree(text: string, refresh: boolean, log: Log): Promise<SelftestTree> {
  if (text.startsWith('debian:')) {
    const suite = text.slice('debian:'.length);
    if (!(suite in DEBIAN_SUITES)) throw new InputError(`--from-tree ${text}: unknown Debian suite (known: ${Object.keys(DEBIAN_SUITES).join(', ')})`);
    return debianSelftestTree(suite, refresh, log);
  }
  const path = userPath(text.replace(/^src:/, ''));
  if (!existsSync(path)) throw new InputError(`--from-tree ${text}: no such folder`);
  return plainTree(path);
}

/** A kernel's own tree: its linux-source package, or its src: tree with the patches; null for a
 * bzImage, which has none (use --from-tree). */
export async function ownTree(kernelSpec: string, refresh: boolean, log: Log): Promise<SelftestTree | null> {
  const spec = parseKernelSpec(kernelSpec);
  if (spec.kind === 'debian') return debianSelftestTree(spec.suite, refresh, log);
  if (spec.kind !== 'src') return null;
  const patches = spec.patches ? patchFiles(spec.patches) : [];
  if (spec.tree.startsWith('debian:')) return { ...(await debianSelftestTree(spec.tree.slice('debian:'.length), refresh, log)), patches };
  return plainTree(spec.tree, patches);
}

async function compiler(): Promise<string> {
  const r = await $({ quiet: true, nothrow: true })`gcc --version`;
  if (r.exitCode !== 0) throw new InputError('building the kernel selftests needs gcc and make');
  return r.stdout.split('\n')[0];
}

/** The tree's selftests folder for mm: `mm` from 6.3 on, `vm` before. */
export function selftestSubdir(tree: string): 'mm' | 'vm' {
  return existsSync(join(tree, 'tools/testing/selftests/mm/Makefile')) ? 'mm' : 'vm';
}

/** Build (or find in the cache) the tests `names` of a tree. */
export async function buildSelftests(t: SelftestTree, names: string[], log: Log): Promise<SelftestBuild> {
  const patchText = t.patches.map((p) => readFileSync(p, 'utf8'));
  const tree = `${t.identity}${t.patches.length ? ` + ${t.patches.length} patch(es)` : ''}`;
  const sorted = [...new Set(names)].sort();
  const id = hashOf(['kselftest-v1', t.identity, ...patchText, ...sorted, await compiler()]);
  const dir = cachePath('kselftest', id);
  const manifest = join(dir, 'manifest.json');
  const cached = () => (existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')) as SelftestBuild) : null);
  const hit = cached();
  if (hit) return { ...hit, dir };
  // The copy (with `make headers` done) is kept per tree + patches: another test list reuses it.
  const work = cachePath('build', `kselftest-${hashOf([t.identity, ...patchText])}`);
  const src = join(work, 'src');
  const logFile = join(work, 'build.log');
  await buildOnce(dir, async (tmp) => {
    const t0 = Date.now();
    mkdirSync(work, { recursive: true });
    writeFileSync(logFile, '');
    if (!existsSync(join(work, 'headers.done'))) {
      log(`selftests of ${tree}: copying the tree and installing its headers`);
      // The cache's own unpacked Debian trees are copied as hard links (1.5 s instead of a
      // 1.5 GB copy): they hold no build products, so make headers only adds files. Any other
      // tree is copied whole (or cloned), its patches applied, as for a kernel build.
      if (t.git || t.patches.length || !t.path.startsWith(cachePath('src'))) await preparedCopy(t.path, t.git, src, t.patches, logFile);
      else {
        rmSync(src, { recursive: true, force: true });
        await $({ quiet: true })`cp -al ${t.path} ${src}`;
      }
      await step(logFile, 'make headers', ['make', '-s', 'headers'], src);
      writeFileSync(join(work, 'headers.done'), tree);
    }
    const subdir = selftestSubdir(src);
    const folder = join(src, 'tools/testing/selftests', subdir);
    const out = join(work, `out-${id}`);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const built: string[] = [];
    const failed: Record<string, string> = {};
    log(`selftests of ${tree}: building ${sorted.join(', ')} (log: ${logFile})`);
    for (const name of sorted) {
      if (!existsSync(join(folder, `${name}.c`))) {
        failed[name] = `the tree has no tools/testing/selftests/${subdir}/${name}.c`;
        continue;
      }
      try {
        await step(logFile, `make ${name}`, ['make', '-C', folder, `OUTPUT=${out}`, 'LDFLAGS=-static', join(out, name)], src);
        copyFileSync(join(out, name), join(tmp, name));
        built.push(name);
      } catch (e) {
        failed[name] = (e as Error).message;
      }
    }
    rmSync(out, { recursive: true, force: true });
    const b: SelftestBuild = { dir, tree, version: t.version, subdir, built, failed, seconds: (Date.now() - t0) / 1000 };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(b, null, 1));
    log(`selftests of ${tree}: built ${built.length} of ${sorted.length} in ${b.seconds.toFixed(1)} s`);
  });
  const made = cached();
  if (!made) throw new InputError(`building the selftests of ${tree} left no manifest (log: ${logFile})`);
  return { ...made, dir };
}
