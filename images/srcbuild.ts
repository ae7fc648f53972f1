// Kernels built from source: `src:<tree>[,rev=<rev>][,patches=<mbox|dir>]`, or
// `src:debian:<suite>` for Debian's linux-source package of that suite. The tree's own build system does the work:
// defconfig + kvm_guest.config + images/kernel.config, patches applied with `git am` (git
// trees) or `patch -p1`, every core. The build happens in a private copy kept per tree, so
// the user's tree is never written, and a patch series or another commit of the same git tree
// recompiles only what it touches (one copy and object folder per tree, under a lock); the
// kernel is cached by commit (or tree content) + patches + config fragment + compiler.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, hashOf, withLock } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { fromRoot, userPath } from '../common/paths.js';
import { suggest } from '../common/suggest.js';
import { aptDownload, aptShow, aptSuite, aptUpdate, oncePerLists } from './apt.js';
import { step } from './buildstep.js';
import { DEBIAN_SUITES } from './debian.js';
import { compareDebVersions } from './debversion.js';
import { hasPvhNote } from './vmlinux.js';

export interface SrcSpec {
  kind: 'src';
  tree: string; // a directory, or debian:<suite>
  rev: string | null; // a git tree's revision to build (default HEAD)
  patches: string | null;
  text: string;
}

export interface Built {
  version: string;
  release: string;
  image: string;
  pvh: boolean;
  modulesDir: null;
  config: string;
}

type Log = (line: string) => void;

export const FRAGMENT = fromRoot('images/kernel.config');

export function parseSrcSpec(rest: string, text: string): SrcSpec {
  // debian:<suite> has a colon of its own; options follow the first comma.
  const [tree, ...opts] = rest.split(',');
  let patches: string | null = null;
  let rev: string | null = null;
  for (const o of opts) {
    if (o.startsWith('patches=')) patches = userPath(o.slice('patches='.length));
    else if (o.startsWith('rev=') && o.length > 4) rev = o.slice('rev='.length);
    else throw new InputError(`unknown option '${o}' in kernel '${text}' (known: rev=<rev>, patches=<mbox|dir>)`);
  }
  if (!tree) throw new InputError(`kernel '${text}' names no source tree`);
  if (tree.startsWith('debian:')) {
    const suite = tree.slice('debian:'.length);
    if (!(suite in DEBIAN_SUITES))
      throw new InputError(`unknown Debian suite '${suite}' in '${text}' (did you mean debian:${suggest(suite, Object.keys(DEBIAN_SUITES), 1)[0]}?)`);
    if (rev) throw new InputError(`rev= is for git trees; '${text}' names Debian's source package`);
    return { kind: 'src', tree, rev, patches, text };
  }
  return { kind: 'src', tree: userPath(tree), rev, patches, text };
}

/** The patch files of `patches=`: one mbox or patch file, or a folder's *.patch / *.diff / *.mbox in name order. */
export function patchFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => /\.(patch|diff|mbox|eml)$/.test(f))
    .sort()
    .map((f) => join(path, f));
}

/** Files a unified diff touches, relative to the tree (as `patch -p1` strips them). Pure, for tests. */
export function touchedFiles(diff: string): string[] {
  const files = new Set<string>();
  for (const m of diff.matchAll(/^(?:---|\+\+\+) (\S+)/gm)) {
    if (m[1] === '/dev/null') continue;
    files.add(m[1].split('/').slice(1).join('/'));
  }
  return [...files].filter(Boolean).sort();
}

/** Check what a spec names before anything starts. */
export function checkSrcSpec(spec: SrcSpec): void {
  if (!spec.tree.startsWith('debian:')) {
    if (!existsSync(spec.tree)) throw new InputError(`kernel source tree ${spec.tree} does not exist`);
    if (!existsSync(join(spec.tree, 'Makefile')) || !existsSync(join(spec.tree, 'arch/x86/Kconfig'))) {
      throw new InputError(`${spec.tree} is not a kernel source tree (no Makefile and arch/x86/Kconfig)`);
    }
    if (spec.rev && !existsSync(join(spec.tree, '.git'))) throw new InputError(`rev= needs a git tree; ${spec.tree} is not one`);
  }
  if (spec.patches) {
    if (!existsSync(spec.patches)) throw new InputError(`patches ${spec.patches} do not exist`);
    if (patchFiles(spec.patches).length === 0) throw new InputError(`${spec.patches} holds no *.patch, *.diff or *.mbox file`);
  }
}

/** Debian's linux-source package of a suite, unpacked once into the cache. */
export async function debianTree(suite: string, refresh: boolean, log: Log): Promise<{ tree: string; identity: string }> {
  const apt = aptSuite(suite);
  if (await aptUpdate(apt, refresh)) log(`fetched the package index of Debian ${suite}`);
  const name = `linux-source-${DEBIAN_SUITES[suite]}`;
  const { Version, Size } = await oncePerLists(apt, 'source.json', async () => {
    const recs = await aptShow(apt, [name]).catch(() => []);
    if (recs.length === 0) throw new InputError(`Debian ${suite} has no ${name}`);
    return recs.sort((a, b) => compareDebVersions(b.Version, a.Version))[0];
  });
  const tree = cachePath('src', `${name}_${Version}`);
  if (!existsSync(tree)) {
    const mb = `${(Number(Size) / 1e6).toFixed(0)} MB`;
    const deb = await aptDownload(apt, name, Version, cachePath('debs'), () => log(`downloading ${name} ${Version} ${mb}`));
    log(`unpacking ${name} ${Version}`);
    await buildOnce(tree, async (tmp) => {
      await $({ quiet: true })`dpkg-deb -x ${deb} ${join(tmp, '.deb')}`;
      const dir = join(tmp, '.deb/usr/src');
      const tarball = readdirSync(dir).find((f) => /^linux-source-.*\.tar\.(xz|gz|bz2)$/.test(f));
      if (!tarball) throw new InputError(`${name} ${Version} holds no source tarball`);
      await $({ quiet: true })`tar -xf ${join(dir, tarball)} -C ${tmp} --strip-components=1`;
      rmSync(join(tmp, '.deb'), { recursive: true });
    });
  }
  return { tree, identity: `${name}=${Version}` };
}

/** A git tree's revision as a full commit hash, or an InputError naming the revision. */
export async function commitOf(tree: string, rev: string): Promise<string> {
  const r = await $({ quiet: true, nothrow: true })`git -C ${tree} rev-parse --verify --quiet ${`${rev}^{commit}`}`;
  if (r.exitCode !== 0) throw new InputError(`${tree} has no commit '${rev}'`);
  return r.stdout.trim();
}

/** What names a tree's content: a git tree's commit (`rev`, else HEAD), else every file's
 * path, size and mtime. HEAD must be clean; a named revision is built from git, so the
 * working tree does not matter. */
export async function treeIdentity(tree: string, rev: string | null = null): Promise<{ identity: string; git: string | null }> {
  if (existsSync(join(tree, '.git'))) {
    const head = await commitOf(tree, rev ?? 'HEAD');
    if (!rev) {
      const dirty = (await $({ quiet: true })`git -C ${tree} status --porcelain --untracked-files=no`).stdout.trim();
      if (dirty) throw new InputError(`${tree} has uncommitted changes: commit them, or pass them as patches= (a source build is of a commit)`);
    }
    return { identity: `git:${head}`, git: head };
  }
  const parts: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const s = statSync(p);
        parts.push(`${relative(tree, p)}:${s.size}:${s.mtimeMs}`);
      }
    }
  };
  walk(tree);
  return { identity: hashOf(parts), git: null };
}

const builds = new Map<string, Promise<unknown>>();
/** One build at a time per tree copy (parallel workers may name the same tree twice). */
function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = builds.get(key) ?? Promise.resolve();
  const next = prev.catch(() => {}).then(fn);
  builds.set(key, next);
  return next;
}

async function compilerVersion(): Promise<string> {
  const r = await $({ quiet: true, nothrow: true })`gcc --version`;
  if (r.exitCode !== 0) throw new InputError('building a kernel from source needs gcc (and make, flex, bison, bc, libelf-dev, libssl-dev)');
  return r.stdout.split('\n')[0];
}

/** Reset the copy to the tree, then apply the patches. */
export async function preparedCopy(tree: string, git: string | null, src: string, patches: string[], logFile: string): Promise<void> {
  const stateFile = join(src, '..', 'patched.json');
  const copied = join(src, '..', 'copied'); // written when the copy is whole
  if (!existsSync(copied)) {
    rmSync(src, { recursive: true, force: true });
    if (git) {
      await $({ quiet: true })`git clone -q --shared --no-checkout ${tree} ${src}`;
      await $({ quiet: true })`git -C ${src} checkout -q --detach ${git}`;
    } else {
      mkdirSync(src, { recursive: true });
      await $({ quiet: true })`cp -a ${tree}/. ${src}/`;
      // Built in place before? make O= wants a clean tree: clean the copy, never the original.
      if (existsSync(join(src, '.config')) || existsSync(join(src, 'include/generated'))) await $({ cwd: src, quiet: true })`make -s mrproper`;
    }
    writeFileSync(stateFile, '[]');
    writeFileSync(copied, tree);
  }
  if (git) {
    await $({ quiet: true, nothrow: true })`git -C ${src} am --abort`;
    await $({ quiet: true })`git -C ${src} reset -q --hard ${git}`;
    await $({ quiet: true })`git -C ${src} clean -fdq`;
    if (patches.length) {
      await step(
        logFile,
        `git am of ${patches.length} patch(es)`,
        ['git', '-c', 'user.name=mmatrix', '-c', 'user.email=mmatrix@localhost', 'am', '-q', '--3way', ...patches],
        src,
      ).catch(async (e) => {
        await $({ quiet: true, nothrow: true })`git -C ${src} am --abort`;
        throw e;
      });
    }
    return;
  }
  // A plain tree: restore what the previous patches touched (with a fresh mtime, so make
  // recompiles it), then patch. The list is written before patching, so a failed patch
  // is undone next time too.
  const previous = JSON.parse(readFileSync(stateFile, 'utf8')) as string[];
  for (const f of previous) {
    const from = join(tree, f);
    if (existsSync(from)) {
      mkdirSync(dirname(join(src, f)), { recursive: true });
      copyFileSync(from, join(src, f));
    } else rmSync(join(src, f), { force: true });
  }
  const touched = [...new Set(patches.flatMap((p) => touchedFiles(readFileSync(p, 'utf8'))))];
  writeFileSync(stateFile, JSON.stringify(touched));
  for (const p of patches) await step(logFile, `patch -p1 < ${p}`, ['patch', '-p1', '--batch', '--forward', '-i', p], src);
}

/** Build (or find in the cache) the kernel a src: spec names. */
export async function buildFromSource(spec: SrcSpec, refresh: boolean, log: Log): Promise<{ id: string; dir: string; built: Built }> {
  const {
    tree,
    identity: treeId,
    git,
  } = spec.tree.startsWith('debian:')
    ? { ...(await debianTree(spec.tree.slice('debian:'.length), refresh, log)), git: null }
    : { tree: spec.tree, ...(await treeIdentity(spec.tree, spec.rev)) };
  const patches = spec.patches ? patchFiles(spec.patches) : [];
  const id = await srcKernelId(treeId, patches);
  const dir = cachePath('kernels', id);
  const cached = () => (existsSync(join(dir, 'kernel.json')) ? { id, dir, built: JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as Built } : null);
  const hit = cached();
  if (hit) return hit;
  // A git tree keeps one copy and one object folder for all its commits (a bisection's steps
  // recompile only what changed); other trees one per content.
  const work = cachePath('build', `src-${hashOf([git ? `git-tree:${tree}` : treeId])}`);
  // One build at a time per copy: in this process, and across processes sharing the cache.
  return serialized(work, () =>
    withLock(
      work,
      async () => {
        // Another worker may have built this very kernel while this one waited.
        const done = cached();
        if (done) return done;
        mkdirSync(work, { recursive: true });
        const src = join(work, 'src');
        const out = join(work, 'out');
        const logFile = join(work, 'build.log');
        writeFileSync(logFile, '');
        const t0 = Date.now();
        log(`${spec.text}: preparing the build tree${patches.length ? ` and applying ${patches.length} patch(es)` : ''}`);
        await preparedCopy(tree, git, src, patches, logFile);
        mkdirSync(out, { recursive: true });
        log(`${spec.text}: configuring (defconfig + kvm_guest.config + images/kernel.config)`);
        await step(logFile, 'make defconfig kvm_guest.config', ['make', `O=${out}`, 'defconfig', 'kvm_guest.config'], src);
        await step(logFile, 'merging images/kernel.config', ['scripts/kconfig/merge_config.sh', '-m', '-O', out, join(out, '.config'), FRAGMENT], src);
        await step(logFile, 'make olddefconfig', ['make', `O=${out}`, 'olddefconfig'], src);
        const missing = missingOptions(readFileSync(FRAGMENT, 'utf8'), readFileSync(join(out, '.config'), 'utf8'));
        if (missing.length) log(`${spec.text}: this tree does not offer ${missing.join(', ')}`);
        const jobs = availableParallelism();
        log(`${spec.text}: compiling with ${jobs} jobs (log: ${logFile})`);
        const tick = setInterval(
          () => log(`${spec.text}: compiling, ${compiledSoFar(logFile)} files so far, ${((Date.now() - t0) / 1000).toFixed(0)} s`),
          60_000,
        );
        try {
          await step(logFile, 'kernel build', ['make', `O=${out}`, `-j${jobs}`, 'bzImage'], src);
        } finally {
          clearInterval(tick);
        }
        const release = (await $({ cwd: src, quiet: true })`make -s O=${out} kernelrelease`).stdout.trim();
        await buildOnce(dir, async (tmp) => {
          const pvh = hasPvhNote(readFileSync(join(out, 'vmlinux')));
          const image = pvh ? 'vmlinux' : 'bzImage';
          copyFileSync(join(out, pvh ? 'vmlinux' : 'arch/x86/boot/bzImage'), join(tmp, image));
          copyFileSync(join(out, '.config'), join(tmp, 'config'));
          const version = `${git ? git.slice(0, 12) : treeId.replace(/^linux-source-[\d.]+=/, '')}${patches.length ? ` + ${patches.length} patch(es)` : ''}`;
          const built: Built = { version, release, image: join(dir, image), pvh, modulesDir: null, config: join(dir, 'config') };
          writeFileSync(join(tmp, 'kernel.json'), JSON.stringify(built));
        });
        log(`${spec.text}: built ${release} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        return cached()!;
      },
      () => log(`${spec.text}: waiting for another mmatrix to finish its build in ${work}`),
    ),
  );
}

/** The cache id of a source build: the tree's identity, the patches, the config fragment and the compiler. */
export async function srcKernelId(treeId: string, patches: string[]): Promise<string> {
  return `src-${hashOf([treeId, ...patches.map((p) => readFileSync(p, 'utf8')), readFileSync(FRAGMENT, 'utf8'), await compilerVersion()])}`;
}

/** Options the fragment sets that the final .config lacks (the tree has no such option). Pure, for tests. */
export function missingOptions(fragment: string, config: string): string[] {
  const have = new Set(
    config
      .split('\n')
      .filter((l) => /^CONFIG_\w+=/.test(l))
      .map((l) => l.slice(0, l.indexOf('='))),
  );
  return fragment
    .split('\n')
    .filter((l) => /^CONFIG_\w+=[ym]$/.test(l))
    .map((l) => l.slice(0, l.indexOf('=')))
    .filter((o) => !have.has(o));
}

function compiledSoFar(logFile: string): number {
  return (readFileSync(logFile, 'utf8').match(/^\s+CC\s/gm) ?? []).length;
}
