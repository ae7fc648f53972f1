// The benchmark's floor: an initramfs with busybox alone whose /init prints a marker and
// powers off. Booting it measures what the kernel itself costs on this machine.
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath, fileStamp, hashOf } from '../common/cache.js';
import { HOST_BINARIES, packCpio } from './initramfs.js';

export const FLOOR_MARKER = 'mmatrix-floor: init';

const INIT = `#!/bin/sh\necho "${FLOOR_MARKER}"\n/bin/busybox poweroff -f\n`;

export async function floorImage(): Promise<string> {
  const dir = cachePath('images', `floor-${hashOf([fileStamp(HOST_BINARIES.busybox), INIT])}`);
  await buildOnce(dir, async (tmp) => {
    const stage = join(tmp, 'stage');
    mkdirSync(join(stage, 'bin'), { recursive: true });
    await $`cp ${HOST_BINARIES.busybox} ${join(stage, 'bin/busybox')}`;
    symlinkSync('busybox', join(stage, 'bin/sh'));
    writeFileSync(join(stage, 'init'), INIT);
    chmodSync(join(stage, 'init'), 0o755);
    await packCpio(stage, join(tmp, 'initramfs.cpio'));
    await $`rm -rf ${stage}`;
  });
  return join(dir, 'initramfs.cpio');
}
