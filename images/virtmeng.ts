// virtme-ng, for the benchmark's comparison only: Debian's package from sid, fetched with the
// private apt configuration and unpacked into the cache (nothing is installed on the host;
// it needs python3-argcomplete and python3-requests from the host's own packages).
import { join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { aptDownload, aptShow, aptSuite, aptUpdate } from './apt.js';
import { type Kernel, packagedFile } from './kernel.js';

export interface Vng {
  version: string;
  root: string; // the unpacked package
  argv(kernelImage: string, tcg: boolean, command: string[]): { cmd: string; args: string[]; env: NodeJS.ProcessEnv };
}

export async function virtmeNg(log: (s: string) => void): Promise<Vng> {
  const apt = aptSuite('sid');
  await aptUpdate(apt, false);
  const rec = (await aptShow(apt, ['virtme-ng']))[0];
  if (!rec) throw new InputError('Debian sid has no virtme-ng package');
  const root = cachePath('virtme-ng', rec.Version);
  await buildOnce(root, async (tmp) => {
    const deb = await aptDownload(apt, 'virtme-ng', rec.Version, cachePath('debs'), () => log(`downloading virtme-ng ${rec.Version}`));
    await $`dpkg-deb -x ${deb} ${tmp}`.quiet();
  });
  const lib = join(root, 'usr/lib/python3/dist-packages');
  return {
    version: rec.Version,
    root,
    argv: (image, tcg, command) => ({
      cmd: '/usr/bin/python3', // the system's python, whose packages vng imports
      // --verbose: on Debian's kernels virtme-init finds no virtio-serial script port and falls
      // back to the console, which vng only shows in verbose mode.
      args: [join(root, 'usr/bin/vng'), '--verbose', '-r', image, ...(tcg ? ['--disable-kvm'] : []), '--', ...command],
      env: { ...process.env, PYTHONPATH: lib, PATH: `${join(root, 'usr/bin')}:${process.env.PATH}` },
    }),
  };
}

/** The kernel image virtme-ng wants: one with a lib/modules tree beside it (it finds the modules from there). */
export function vngKernelImage(k: Kernel): string {
  if (!k.modulesDir) throw new InputError(`${k.spec}: virtme-ng needs the kernel's modules`);
  const hit = packagedFile(k.modulesDir, k.release, 'vmlinuz');
  if (!hit) throw new InputError(`${k.spec}: no vmlinuz beside its modules for virtme-ng`);
  return hit;
}
