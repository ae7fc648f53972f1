// The guest's SSH server: dropbear built static from Debian's source package, once per cache.
// Debian's binary loads six shared libraries; under TCG that made each start of it take
// 60–90 ms against ~10 ms for a static binary, and a boot to SSH ready ~0.3 s longer
// (median of 10 interleaved boots, 6.1). Bookworm's version (2022.83, with Debian's patches)
// is the one whose channel handling runner/ssh.ts works around.
import { cpus } from 'node:os';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { aptSuite, aptUpdate, InputError } from './apt.js';
import { buildOnce, cachePath, hashOf } from './cache.js';

const SUITE = 'bookworm';
// -E (log to stderr) needs syslog support; no zlib, no login records, no PAM: the guest has none.
const CONFIGURE = ['--enable-static', '--enable-bundled-libtom', '--disable-zlib', '--disable-lastlog', '--disable-utmp', '--disable-utmpx', '--disable-wtmp', '--disable-wtmpx', '--disable-pam'];

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
    const step = async (what: string, run: () => Promise<{ exitCode: number | null; stdout: string; stderr: string }>) => {
      const r = await run();
      writeFileSync(log, `${what}\n${r.stdout}${r.stderr}`, { flag: 'a' });
      if (r.exitCode !== 0) throw new InputError(`building dropbear: ${what} failed (log: ${log})`);
    };
    writeFileSync(log, '');
    const q = { cwd: tmp, nothrow: true, quiet: true };
    await step('apt-get source', () => $(q)`apt-get ${apt.options} -q source --download-only dropbear`);
    const files = readdirSync(tmp);
    const orig = files.find((f) => /^dropbear_.*\.orig\.tar\.\w+$/.test(f));
    const debian = files.find((f) => /^dropbear_.*\.debian\.tar\.\w+$/.test(f));
    if (!orig || !debian) throw new InputError(`building dropbear: the source package lacks its tarballs (got ${files.join(', ')})`);
    await step('unpack', () => $(q)`tar xf ${orig}`);
    const src = join(tmp, readdirSync(tmp).find((f) => f.startsWith('dropbear-'))!);
    await step('unpack debian/', () => $(q)`tar xf ${debian} -C ${src}`);
    const series = join(src, 'debian/patches/series');
    for (const p of existsSync(series) ? quiltSeries(readFileSync(series, 'utf8')) : []) {
      await step(`patch ${p}`, () => $(q)`patch -p1 -s -d ${src} -i ${join(src, 'debian/patches', p)}`);
    }
    await step('configure', () => $({ ...q, cwd: src })`./configure ${CONFIGURE}`);
    await step('make', () => $({ ...q, cwd: src })`make -j${cpus().length} PROGRAMS=dropbear STATIC=1`);
    await step('strip', () => $(q)`strip -o ${join(tmp, 'dropbear')} ${join(src, 'dropbear')}`);
    writeFileSync(join(tmp, 'source'), files.find((f) => f.endsWith('.dsc')) + '\n');
    await $`rm -rf ${src} ${files.map((f) => join(tmp, f))}`;
  });
  return join(dir, 'dropbear');
}
