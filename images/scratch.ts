// The scratch ext4 filesystem the ext4 memory types map files from. One empty filesystem is
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
