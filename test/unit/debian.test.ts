import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { parse822 } from '../../images/apt.js';
import { pickKernel, suiteOfVersion } from '../../images/debian.js';
import { configOf, type Kernel, packagedFile, parseKernelSpec, unpackDebian } from '../../images/kernel.js';
import { vngKernelImage } from '../../images/virtmeng.js';

const bookworm = parse822(`Package: linux-image-6.1.0-49-amd64-unsigned
Version: 6.1.175-1

Package: linux-image-6.1.0-50-amd64-unsigned
Version: 6.1.176-1
Depends: kmod, initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool

Package: linux-image-6.1.0-50-amd64
Version: 6.1.176-1

Package: linux-image-6.1.0-50-cloud-amd64-unsigned
Version: 6.1.176-1
`);

test('newest unsigned image of the suite, not a flavour', (t) => {
  const k = pickKernel('bookworm', bookworm)!;
  t.is(k.abi, '6.1.0-50');
  t.deepEqual(k.packages, [{ name: 'linux-image-6.1.0-50-amd64-unsigned', version: '6.1.176-1' }]);
});

test('7.x: the image is a meta package; base, binary and modules are fetched', (t) => {
  const recs = parse822(`Package: linux-image-7.3-amd64
Version: 7.3~rc7-1~exp1
Depends: dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-7.3-amd64 (= 7.3~rc7-1~exp1), linux-binary-7.3-amd64 (= 7.3~rc7-1~exp1), linux-modules-7.3-amd64 (= 7.3~rc7-1~exp1)

Package: linux-image-7.3-rt-amd64
Version: 7.3~rc7-1~exp1
`);
  const k = pickKernel('experimental', recs)!;
  t.is(k.abi, '7.3');
  t.deepEqual(
    k.packages.map((p) => p.name),
    ['linux-base-7.3-amd64', 'linux-binary-7.3-amd64', 'linux-modules-7.3-amd64'],
  );
  t.true(k.packages.every((p) => p.version === '7.3~rc7-1~exp1'));
});

test('no kernel in the suite gives null', (t) => {
  t.is(pickKernel('x', parse822('Package: linux-image-amd64\nVersion: 1\n')), null);
});

test('parse822 folds continuation lines', (t) => {
  const [r] = parse822('Package: a\nDescription: one\n two\n');
  t.is(r.Description, 'one\ntwo');
});

test('an exact package version names its suite, and picks that version only', (t) => {
  t.is(suiteOfVersion('6.1.176-1'), 'bookworm');
  t.is(suiteOfVersion('6.12.117-1'), 'trixie');
  t.is(suiteOfVersion('7.3~rc7-1~exp1'), 'experimental');
  t.is(suiteOfVersion('4.19.1-1'), null);
  t.is(pickKernel('bookworm', bookworm, '6.1.176-1')!.version, '6.1.176-1');
  t.is(pickKernel('bookworm', bookworm, '6.1.99-1'), null);
  t.deepEqual(parseKernelSpec('debian:6.1.176-1'), { kind: 'debian', suite: 'bookworm', version: '6.1.176-1', text: 'debian:6.1.176-1' });
  t.throws(() => parseKernelSpec('debian:4.19.1-1'), { message: /unknown kernel 'debian:4\.19\.1-1'/ });
});

test('a truncated .deb is named, and dropped from the cache so the next run fetches it again', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-deb-'));
  const deb = join(dir, 'linux-image-6.1.0-50-amd64-unsigned_6.1.176-1_amd64.deb');
  writeFileSync(deb, '!<arch>\ndebian-binary   1700000000  0     0     100644  4         `\n2.0\n'); // cut off after the first member
  mkdirSync(join(dir, 'unpack'));
  await t.throwsAsync(unpackDebian([deb], join(dir, 'unpack')), {
    message: /linux-image-6\.1\.0-50-amd64-unsigned_6\.1\.176-1_amd64\.deb is not a readable \.deb .*removed it from the cache/,
  });
  t.false(existsSync(deb));
});

/** The three package layouts, each made in `root` with file `name` where that layout keeps it:
 * [modules folder, the file's path]. */
function layouts(root: string, name: 'config' | 'vmlinuz'): [string, string, string][] {
  return (['6.12.1:usr/lib/modules:boot', '6.1.1:lib/modules:boot', '7.3:usr/lib/modules:'] as const).map((l) => {
    const [release, modRoot, boot] = l.split(':');
    const mods = join(root, modRoot, release);
    const file = boot ? join(root, boot, `${name}-${release}`) : join(mods, name);
    mkdirSync(mods, { recursive: true });
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, 'x');
    return [mods, release, file];
  });
}

test('a packaged kernel .config is found under boot/ whether modules are in lib/ or usr/lib/, else beside them', (t) => {
  for (const [mods, release, file] of layouts(mkdtempSync(join(tmpdir(), 'mmatrix-config-')), 'config')) t.is(configOf(mods, release), file);
  t.is(configOf(null, '6.1'), null);
});

test('one rule finds a packaged vmlinuz for boot and virtme-ng alike, in every layout', (t) => {
  for (const [mods, release, file] of layouts(mkdtempSync(join(tmpdir(), 'mmatrix-vmlinuz-')), 'vmlinuz')) {
    t.is(packagedFile(mods, release, 'vmlinuz'), file);
    t.is(vngKernelImage({ spec: 'debian:x', modulesDir: mods, release } as Kernel), file);
  }
});
