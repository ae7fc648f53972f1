import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import { checkKernelSpec, parseKernelSpec } from '../../images/kernel.js';
import { FRAGMENT, missingOptions, patchFiles, preparedCopy, touchedFiles, treeIdentity } from '../../images/srcbuild.js';

test('src: specs: a tree, patches, debian:<suite>; bad options and suites are named', (t) => {
  t.deepEqual(parseKernelSpec('src:/k/linux,patches=/k/series.mbox'), {
    kind: 'src',
    tree: '/k/linux',
    rev: null,
    patches: '/k/series.mbox',
    text: 'src:/k/linux,patches=/k/series.mbox',
  });
  t.is((parseKernelSpec('src:~/linux,patches=~/s') as { tree: string }).tree, join(homedir(), 'linux'), 'a ~ the shell left alone');
  t.deepEqual(parseKernelSpec('src:debian:bookworm'), { kind: 'src', tree: 'debian:bookworm', rev: null, patches: null, text: 'src:debian:bookworm' });
  t.is((parseKernelSpec('src:/k/linux,rev=v6.1~3') as { rev: string }).rev, 'v6.1~3');
  t.throws(() => parseKernelSpec('src:debian:bookworm,rev=abc'), { message: /rev= is for git trees/ });
  t.throws(() => parseKernelSpec('src:/k/linux,config=x'), { message: /unknown option 'config=x'.*rev=<rev>, patches=<mbox\|dir>/ });
  t.throws(() => parseKernelSpec('src:debian:bookwrm'), { message: /unknown Debian suite 'bookwrm'.*did you mean debian:bookworm/ });
  t.throws(() => parseKernelSpec('src:'), { message: /names no source tree/ });
});

test('src: checks the tree and the patches before anything starts', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-src-'));
  t.throws(() => checkKernelSpec(parseKernelSpec(`src:${dir}/none`)), { message: /does not exist/ });
  t.throws(() => checkKernelSpec(parseKernelSpec(`src:${dir}`)), { message: /is not a kernel source tree/ });
  mkdirSync(join(dir, 'arch/x86'), { recursive: true });
  writeFileSync(join(dir, 'Makefile'), '');
  writeFileSync(join(dir, 'arch/x86/Kconfig'), '');
  t.is(checkKernelSpec(parseKernelSpec(`src:${dir}`)), null);
  t.throws(() => checkKernelSpec(parseKernelSpec(`src:${dir},patches=${dir}/p.mbox`)), { message: /do not exist/ });
  mkdirSync(join(dir, 'series'));
  t.throws(() => checkKernelSpec(parseKernelSpec(`src:${dir},patches=${dir}/series`)), { message: /holds no \*\.patch/ });
  for (const f of ['0002-b.patch', '0001-a.patch', 'cover-letter.txt']) writeFileSync(join(dir, 'series', f), '');
  t.deepEqual(
    patchFiles(join(dir, 'series')).map((f) => f.slice(dir.length + 1)),
    ['series/0001-a.patch', 'series/0002-b.patch'],
  );
});

test('the files a patch touches, as patch -p1 sees them', (t) => {
  const patch = readFileSync(fromRoot('test/patchgate/0001-mm-madv_free-whole-thp.patch'), 'utf8');
  t.deepEqual(touchedFiles(patch), ['mm/huge_memory.c']);
  const created = '--- /dev/null\n+++ b/mm/new.c\n@@ -0,0 +1 @@\n+x\n--- a/mm/gone.c\n+++ /dev/null\n';
  t.deepEqual(touchedFiles(created), ['mm/gone.c', 'mm/new.c']);
});

test('the config fragment: options a tree does not offer are reported', (t) => {
  const fragment = readFileSync(FRAGMENT, 'utf8');
  t.regex(fragment, /^CONFIG_HUGETLBFS=y$/m);
  t.regex(fragment, /^CONFIG_PVH=y$/m);
  t.regex(fragment, /^# CONFIG_MODULES is not set$/m);
  t.deepEqual(missingOptions('CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n', 'CONFIG_A=y\n# CONFIG_B is not set\n'), ['CONFIG_B']);
});

const MBOX = `From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
From: A <a@b>
Date: Mon, 23 Nov 2026 12:00:00 +0000
Subject: [PATCH] mm: two

---
diff --git a/mm/a.c b/mm/a.c
--- a/mm/a.c
+++ b/mm/a.c
@@ -1 +1 @@
-one
+two
diff --git a/mm/new.c b/mm/new.c
new file mode 100644
--- /dev/null
+++ b/mm/new.c
@@ -0,0 +1 @@
+new
`;

/** A two-file tree, its patch, and a work folder for the copy. */
function fakeTree(git: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-copy-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'mm'), { recursive: true });
  writeFileSync(join(tree, 'Makefile'), 'all:\n');
  writeFileSync(join(tree, 'mm/a.c'), 'one\n');
  writeFileSync(join(dir, '0001.patch'), MBOX);
  let head: string | null = null;
  if (git) {
    const g = (...a: string[]) => execFileSync('git', ['-C', tree, '-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { encoding: 'utf8' }).trim();
    g('init', '-q');
    g('add', '.');
    g('commit', '-qm', 'base');
    head = g('rev-parse', 'HEAD');
  }
  mkdirSync(join(dir, 'work'));
  return { tree, head, patch: join(dir, '0001.patch'), src: join(dir, 'work/src'), log: join(dir, 'work/build.log') };
}

for (const git of [false, true]) {
  test(`the build copy (${git ? 'git am' : 'patch -p1'}): patched, then back to the tree with fresh mtimes; the tree untouched`, async (t) => {
    const f = fakeTree(git);
    await preparedCopy(f.tree, f.head, f.src, [f.patch], f.log);
    t.is(readFileSync(join(f.src, 'mm/a.c'), 'utf8'), 'two\n');
    t.is(readFileSync(join(f.src, 'mm/new.c'), 'utf8'), 'new\n');
    t.is(readFileSync(join(f.tree, 'mm/a.c'), 'utf8'), 'one\n');
    t.false(existsSync(join(f.tree, 'mm/new.c')));
    const patchedAt = statSync(join(f.src, 'mm/a.c')).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await preparedCopy(f.tree, f.head, f.src, [], f.log);
    t.is(readFileSync(join(f.src, 'mm/a.c'), 'utf8'), 'one\n');
    t.false(existsSync(join(f.src, 'mm/new.c')));
    t.true(statSync(join(f.src, 'mm/a.c')).mtimeMs > patchedAt, 'make must see the restored file as new');
  });
}

test('a patch that does not apply names itself and the log', async (t) => {
  const f = fakeTree(false);
  writeFileSync(f.patch, MBOX.replace('-one', '-three'));
  await t.throwsAsync(preparedCopy(f.tree, null, f.src, [f.patch], f.log), { message: /patch -p1 < \S+0001\.patch failed: .* \(full log: \S+build\.log\)/ });
});

test('a tree is named by its HEAD commit, or by its files; a dirty git tree is refused', async (t) => {
  const g = fakeTree(true);
  t.deepEqual(await treeIdentity(g.tree), { identity: `git:${g.head}`, git: g.head });
  t.deepEqual(await treeIdentity(g.tree, 'HEAD'), { identity: `git:${g.head}`, git: g.head }, 'a named revision');
  await t.throwsAsync(treeIdentity(g.tree, 'nosuch'), { message: /has no commit 'nosuch'/ });
  writeFileSync(join(g.tree, 'mm/a.c'), 'edited\n');
  await t.throwsAsync(treeIdentity(g.tree), { message: /has uncommitted changes: commit them, or pass them as patches=/ });
  t.is((await treeIdentity(g.tree, g.head!)).git, g.head, 'a named revision is built from git: the working tree does not matter');
  const p = fakeTree(false);
  const before = await treeIdentity(p.tree);
  t.deepEqual(await treeIdentity(p.tree), before);
  writeFileSync(join(p.tree, 'mm/a.c'), 'edited, longer\n');
  t.not((await treeIdentity(p.tree)).identity, before.identity);
});
