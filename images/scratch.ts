// The guest's scratch disks: an ext4 filesystem and a swap device. Each empty image is made
// once per cache with the host's mkfs.ext4 / mkswap; guests attach them with QEMU's
// snapshot=on, so each guest writes to its own throw-away overlay and the templates stay empty.
import { join } from 'node:path';
import { $ } from 'zx/core';
import { buildOnce, cachePath } from '../common/cache.js';

// No metadata_csum: on kernels before 6.15 that needs the crc32c crypto module, and the
// checksums have nothing to do with the semantics under test.
const FEATURES = '^metadata_csum';

/** An image of `size` under the cache, which `format` turns into what it is once. */
async function scratchImage(name: string, size: string, format: (img: string) => Promise<unknown>): Promise<string> {
  const dir = cachePath('scratch', `${name}-${size}-v1`);
  await buildOnce(dir, async (tmp) => {
    const img = join(tmp, `${name}.img`);
    await $`truncate -s ${size} ${img}`.quiet();
    await format(img);
  });
  return join(dir, `${name}.img`);
}

export const scratchExt4 = () =>
  scratchImage('ext4', '256M', (img) => $`mkfs.ext4 -q -F -O ${FEATURES} -E lazy_itable_init=0,lazy_journal_init=0 -L mmatrix-scratch ${img}`.quiet());

/** A small swap device: MADV_PAGEOUT has somewhere to put anonymous and shmem pages. */
export const scratchSwap = () => scratchImage('swap', '64M', (img) => $`mkswap -L mmatrix-swap ${img}`.quiet());

/** The disks every suite guest gets, in order: /dev/vdb the ext4 scratch, /dev/vdc the swap. */
export const scratchDisks = async () => [
  { file: await scratchExt4(), mode: 'scratch' as const },
  { file: await scratchSwap(), mode: 'scratch' as const },
];
