// The guest's SSH server: dropbear built static from Debian's source package, once per cache.
// Debian's binary loads six shared libraries; under TCG that made each start of it take
// 60–90 ms against ~10 ms for a static binary, and a boot to SSH ready ~0.3 s longer
// (median of 10 interleaved boots, 6.1). Bookworm's version (2022.83, with Debian's patches)
// is the one whose channel handling runner/ssh.ts works around.

import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, hashOf } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { aptSuite, aptUpdate } from './apt.js';
import { step } from './buildstep.js';

const SUITE = 'bookworm';
// -E (log to stderr) needs syslog support; no zlib, no login records, no PAM: the guest has none.
const CONFIGURE = [
  '--enable-static',
  '--enable-bundled-libtom',
  '--disable-zlib',
  '--disable-lastlog',
  '--disable-utmp',
  '--disable-utmpx',
  '--disable-wtmp',
  '--disable-wtmpx',
  '--disable-pam',
];

/** Patches of a Debian source package's quilt series, in order. */
export function quiltSeries(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim().split(/\s+/)[0])
    .filter(Boolean);
}

/** Path of the static dropbear, building it first when the cache has none. */
export async function staticDropbear(): Promise<string> {
  const dir = cachePath('build', `dropbear-${hashOf([SUITE, ...CONFIGURE])}`);
  const log = cachePath('build', 'dropbear.log');
  await buildOnce(dir, async (tmp) => {
    const apt = aptSuite(SUITE, true);
    await aptUpdate(apt);
    writeFileSync(log, '');
    await step(log, "fetching dropbear's source", ['apt-get', ...apt.options, '-q', 'source', '--download-only', 'dropbear'], tmp);
    const files = readdirSync(tmp);
    const orig = files.find((f) => /^dropbear_.*\.orig\.tar\.\w+$/.test(f));
    const debian = files.find((f) => /^dropbear_.*\.debian\.tar\.\w+$/.test(f));
    if (!orig || !debian) throw new InputError(`building dropbear: the source package lacks its tarballs (got ${files.join(', ')})`);
    await step(log, 'unpacking dropbear', ['tar', 'xf', orig], tmp);
    const src = join(tmp, readdirSync(tmp).find((f) => f.startsWith('dropbear-'))!);
    await step(log, "unpacking dropbear's debian/", ['tar', 'xf', join(tmp, debian)], src);
    const series = join(src, 'debian/patches/series');
    for (const p of existsSync(series) ? quiltSeries(readFileSync(series, 'utf8')) : []) {
      await step(log, `applying Debian's ${p} to dropbear`, ['patch', '-p1', '-s', '-i', join(src, 'debian/patches', p)], src);
    }
    await step(log, 'configuring dropbear', ['./configure', ...CONFIGURE], src);
    await step(log, 'compiling dropbear', ['make', `-j${availableParallelism()}`, 'PROGRAMS=dropbear', 'STATIC=1'], src);
    await step(log, 'stripping dropbear', ['strip', '-o', join(tmp, 'dropbear'), join(src, 'dropbear')], tmp);
    writeFileSync(join(tmp, 'source'), `${files.find((f) => f.endsWith('.dsc'))}\n`);
    await $`rm -rf ${src} ${files.map((f) => join(tmp, f))}`;
  });
  return join(dir, 'dropbear');
}
