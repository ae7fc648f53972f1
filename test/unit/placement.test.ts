// unalignPlacement() on the host kernel: the kernel's next placement of an anonymous range is
// 2 MiB-unaligned afterwards, unless the kernel aligns such ranges itself (v6.7 and later), in
// which case every probe came back aligned and was pinned.
import test from 'ava';
import { K, mm } from '../../guest/native.js';
import { unalignPlacement } from '../../suites/mremap.js';

const PMD = 2n << 20n;
const LEN = 8 << 20;
const ANON = K.MAP_PRIVATE | K.MAP_ANONYMOUS;

test('after unalignPlacement the next anonymous mapping lands unaligned, or the kernel aligned every probe', (t) => {
  const tries = 8;
  const fillers = unalignPlacement(LEN, tries);
  const m = mm.mmap(0, LEN, K.PROT_NONE, ANON, -1, 0);
  t.is(m.errno, undefined);
  const aligned = m.addr! % PMD === 0n;
  if (aligned) t.is(fillers.length, tries, 'an aligned placement only where the kernel aligns every probe');
  else t.true(fillers.length < tries);
  for (const f of fillers) t.is(f % 4096n, 0n);
  mm.munmap(m.addr!, LEN);
  for (const f of fillers) mm.munmap(f, 4096);
});
