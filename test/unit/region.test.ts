// A region on the host kernel: what a case unmaps of it stops being the region's at once. Node's
// other threads map memory while a case runs (V8 takes its heap in 256 KiB pages, the size of a
// 512 KiB region's half), and a teardown that unmapped the whole range again would unmap theirs
// (the suspected cause of the guest's node process dying of SIGSEGV in @hole cases).
import test from 'ava';
import { K, mm } from '../../guest/native.js';
import { type GuestEnv, MEMTYPES } from '../../suites/memtypes.js';
import { MAP_FIXED_NOREPLACE } from '../../suites/mremap.js';
import { BASE_LEN } from '../../suites/observe.js';

const env: GuestEnv = { hugePage: 2 << 20, pools: {}, hugetlbfs: '', hugetlbfs1g: '', swap: 'none', tmpfs: '/dev/shm', ext4: null, thp: 'madvise' };

for (const id of ['anon-private', 'memfd-shared']) {
  test(`${id}: after unmapHead, close() leaves alone what another thread mapped in the hole`, (t) => {
    const mt = MEMTYPES.find((m) => m.id === id)!;
    const r = mt.create(BASE_LEN, env);
    const half = BASE_LEN / 2;
    t.is(r.unmapHead(half).errno, undefined);
    // Another thread's mapping, where the head was.
    const other = mm.mmap(r.addr, half, K.PROT_READ | K.PROT_WRITE, K.MAP_PRIVATE | K.MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    t.is(other.addr, r.addr, 'the hole was free to map');
    const tail = r.addr + BigInt(half);
    r.close();
    t.is(mm.mincore(r.addr, half).errno, undefined, "the other mapping survives the region's teardown");
    t.is(mm.mincore(tail, half).errno, 'ENOMEM', 'and the region itself is gone');
    mm.munmap(r.addr, half);
  });
}
