// The guest's scratch disks: an ext4 filesystem and a swap device. One empty filesystem is
// made once per cache with the host's mkfs.ext4; guests attach it with QEMU's snapshot=on,
// so each guest writes to its own throw-away overlay and the template stays empty.
import { join } from 'node:path';
import { $ } from 'zx';
import { buildOnce, cachePath } from '../common/cache.js';

const SIZE = '256M';
// No metadata_csum: on kernels before 6.15 that needs the crc32c crypto module, and the
// checksums have nothing to do with the semantics under test.
const FEATURES = '^metadata_csum';

export async function scratchExt4(): Promise<string> {
  const dir = cachePath('scratch', `ext4-${SIZE}-v1`);
  await buildOnce(dir, async (tmp) => {
    const img = join(tmp, 'ext4.img');
    await $`truncate -s ${SIZE} ${img}`.quiet();
    await $`mkfs.ext4 -q -F -O ${FEATURES} -E lazy_itable_init=0,lazy_journal_init=0 -L mmatrix-scratch ${img}`.quiet();
  });
  return join(dir, 'ext4.img');
}

const SWAP_SIZE = '64M';

/** A small swap device, made once per cache with the host's mkswap: MADV_PAGEOUT has somewhere to
 * put anonymous and shmem pages. Attached with snapshot=on like the ext4 disk. */
export async function scratchSwap(): Promise<string> {
  const dir = cachePath('scratch', `swap-${SWAP_SIZE}-v1`);
  await buildOnce(dir, async (tmp) => {
    const img = join(tmp, 'swap.img');
    await $`truncate -s ${SWAP_SIZE} ${img}`.quiet();
    await $`mkswap -L mmatrix-swap ${img}`.quiet();
  });
  return join(dir, 'swap.img');
}

/** The disks every suite guest gets, in order: /dev/vdb the ext4 scratch, /dev/vdc the swap. */
export const scratchDisks = async () => [
  { file: await scratchExt4(), mode: 'scratch' as const },
  { file: await scratchSwap(), mode: 'scratch' as const },
];
