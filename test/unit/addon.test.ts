// The guest addon, exercised on the host kernel: guarded access and errno names.

import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { K, mm } from '../../guest/native.js';

const RW = K.PROT_READ | K.PROT_WRITE;
const len = 4 * 4096;

test('fill and scan see the pattern, MADV_DONTNEED on private anon zeroes it', (t) => {
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.truthy(m.addr);
  t.true(mm.fill(m.addr!, len, 7).ok);
  t.is(mm.scan(m.addr!, len, 7).pattern, 4);
  t.like(mm.pagemap(m.addr!, len), { present: 4, anon: 4 });
  t.is(mm.madvise(m.addr!, len, K.MADV_DONTNEED).ret, 0);
  t.is(mm.pagemap(m.addr!, len).present, 0);
  t.like(mm.scan(m.addr!, len, 7), { zero: 4, pattern: 0 });
  t.is(mm.munmap(m.addr!, len).ret, 0);
});

test("pagemap counts a shared memfd's pages and the zero page as present, not anonymous; a private copy is", (t) => {
  const fd = mm.memfdCreate('a', K.MFD_CLOEXEC).ret!;
  mm.ftruncate(fd, len);
  const shared = mm.mmap(0, len, RW, K.MAP_SHARED, fd, 0);
  mm.fill(shared.addr!, len, 3);
  t.like(mm.pagemap(shared.addr!, len), { present: 4, anon: 0 });
  const priv = mm.mmap(0, len, RW, K.MAP_PRIVATE, fd, 0);
  mm.fill(priv.addr!, len, 5); // written: copied on write
  t.like(mm.pagemap(priv.addr!, len), { present: 4, anon: 4 });
  mm.munmap(shared.addr!, len);
  mm.munmap(priv.addr!, len);
  const zero = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.is(mm.scan(zero.addr!, len, 1).zero, 4); // read faults map the shared zero page, where the kernel has one
  // Some hosts' kernels allocate a page per read fault (four PFNs, not one): the addon must count
  // those as anonymous. The guests' Debian kernels map the zero page.
  const zeroPage = new Set(pfns(zero.addr!, len / 4096)).size === 1;
  t.like(mm.pagemap(zero.addr!, len), { present: 4, anon: zeroPage ? 0 : 4 });
  mm.munmap(zero.addr!, len);
});

test('an access after munmap is SIGSEGV as a value, not a crash', (t) => {
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  mm.munmap(m.addr!, len);
  t.like(mm.scan(m.addr!, len, 1), { faulted: 4, signal: 'SIGSEGV', offset: 0 });
  t.like(mm.fill(m.addr!, len, 1), { ok: false, signal: 'SIGSEGV' });
});

test('past the end of a memfd is SIGBUS (BUS_ADRERR) at the first page beyond it', (t) => {
  const fd = mm.memfdCreate('t', K.MFD_CLOEXEC).ret!;
  mm.ftruncate(fd, 4096);
  const m = mm.mmap(0, len, RW, K.MAP_SHARED, fd, 0);
  t.like(mm.scan(m.addr!, len, 1), { zero: 1, faulted: 3, signal: 'SIGBUS', si_code: 2, offset: 4096 });
  mm.munmap(m.addr!, len);
});

test('mprotect(PROT_NONE) makes a populated range fault; MADV_POPULATE_READ needs VM_READ, which PROT_WRITE alone does not give', (t) => {
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.true(mm.fill(m.addr!, len, 9).ok);
  t.is(mm.mprotect(m.addr!, len, K.PROT_NONE).ret, 0);
  t.like(mm.scan(m.addr!, len, 9), { faulted: 4, signal: 'SIGSEGV' });
  mm.munmap(m.addr!, len);
  const w = mm.mmap(0, len, K.PROT_WRITE, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.deepEqual(mm.madvise(w.addr!, len, K.MADV_POPULATE_READ), { errno: 'EINVAL' });
  t.deepEqual(mm.madvise(w.addr!, len, K.MADV_POPULATE_WRITE), { ret: 0 });
  mm.munmap(w.addr!, len);
});

test('a probe child seals the range and tries to unmap it; the parent keeps its mapping unsealed', (t) => {
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.true(mm.fill(m.addr!, len, 4).ok);
  const p = mm.childProbe(m.addr!, len, K.STEP_SEAL_MUNMAP, 4, 0, 0, 0);
  if (p.sealErrno) t.is(p.sealErrno, 'ENOSYS', 'a host kernel without mseal');
  else t.is(p.errno, 'EPERM');
  t.like(p, { pattern: 4, faulted: 0 }, 'the child still reads the data');
  const none = mm.childProbe(m.addr!, len, K.STEP_NONE, 4, 0, 0, 0);
  t.like(none, { pattern: 4 });
  t.is(none.errno, undefined);
  t.is(mm.madvise(m.addr!, len, K.MADV_WIPEONFORK).ret, 0);
  t.like(mm.childProbe(m.addr!, len, K.STEP_NONE, 4, 0, 0, 0), { zero: 4, pattern: 0 }, 'wipe-on-fork: the child reads zeros');
  t.is(mm.madvise(m.addr!, len, K.MADV_DONTFORK).ret, 0);
  t.like(mm.childProbe(m.addr!, len, K.STEP_NONE, 4, 0, 0, 0), { faulted: 4, signal: 'SIGSEGV' }, 'dont-fork: not mapped in the child');
  t.is(mm.scan(m.addr!, len, 4).pattern, 4, "the parent's data is untouched");
  t.is(mm.munmap(m.addr!, len).ret, 0, 'and its mapping was never sealed');
  t.throws(() => mm.childProbe(m.addr!, len, 99, 4, 0, 0, 0), { message: /no such probe step/ });
});

test('errno comes back by name', (t) => {
  t.deepEqual(mm.madvise(1n, 4096, K.MADV_DONTNEED), { errno: 'EINVAL' });
  t.deepEqual(mm.memfdCreate('t', 0xffff), { errno: 'EINVAL' });
});

test('a /proc file open once reads anew from offset 0 each time; a bad fd throws its errno', (t) => {
  const fd = openSync('/proc/self/statm', 'r');
  try {
    const before = Number(mm.preadText(fd).split(' ')[1]); // resident pages
    const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
    mm.fill(m.addr!, len, 3);
    const after = Number(mm.preadText(fd).split(' ')[1]);
    mm.munmap(m.addr!, len);
    t.true(after - before >= len / 4096, `${before} → ${after} resident pages`);
  } finally {
    closeSync(fd);
  }
  t.throws(() => mm.preadText(-1), { message: 'EBADF' });
});

test('a file is read whole from its start however long, twice over one open fd', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-readall-'));
  const path = join(dir, 'f');
  const text = `${'x'.repeat(200 << 10)}end`;
  writeFileSync(path, text);
  const fd = openSync(path, 'r');
  try {
    t.is(mm.readAll(fd), text);
    t.is(mm.readAll(fd), text, 'the second read starts from the start again');
    const smaps = openSync('/proc/self/smaps', 'r');
    const s = mm.readAll(smaps);
    closeSync(smaps);
    t.regex(s, /^[0-9a-f]+-[0-9a-f]+ /);
    t.true(s.length > 64 << 10 || s.includes('AnonHugePages:'), 'the whole of smaps, not a first page');
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a part of a mapping is compared with the pattern written at its offset', (t) => {
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  mm.fill(m.addr!, len, 9);
  const part = m.addr! + 8192n;
  t.like(mm.scan(part, 8192, 9, 8192), { pattern: 2, other: 0 });
  t.like(mm.scan(part, 8192, 9), { pattern: 0, other: 2 }, 'read as if it started the mapping, it is foreign data');
  mm.munmap(part, 4096);
  t.like(mm.scan(part, 8192, 9, 8192), { pattern: 1, faulted: 1, signal: 'SIGSEGV', offset: 0 });
  mm.munmap(m.addr!, len);
});

/** The page frame numbers /proc/self/pagemap gives for `pages` pages from `addr` (bits 0-54; root sees them). */
function pfns(addr: bigint, pages: number): bigint[] {
  const fd = openSync('/proc/self/pagemap', 'r');
  try {
    const buf = Buffer.alloc(8 * pages);
    readSync(fd, buf, 0, buf.length, (addr / 4096n) * 8n);
    return Array.from({ length: pages }, (_, i) => buf.readBigUInt64LE(8 * i) & ((1n << 55n) - 1n));
  } finally {
    closeSync(fd);
  }
}

test("a private file mapping that drops its copies reads the file's own data, told apart from zeros", (t) => {
  const fd = mm.memfdCreate('file-data', 0).ret!;
  mm.ftruncate(fd, len);
  const shared = mm.mmap(0, len, RW, K.MAP_SHARED, fd, 0).addr!;
  mm.fill(shared, len, 0xc3); // the file's own data
  mm.munmap(shared, len);
  const priv = mm.mmap(0, len, RW, K.MAP_PRIVATE, fd, 0).addr!;
  t.like(mm.scan(priv, len, 0x5a, 0, 0xc3), { pattern: 0, file: 4, zero: 0, other: 0 }, 'before any write: the file');
  mm.fill(priv, len, 0x5a);
  t.like(mm.scan(priv, len, 0x5a, 0, 0xc3), { pattern: 4, file: 0 }, 'private copies');
  t.deepEqual(mm.madvise(priv, len, K.MADV_DONTNEED), { ret: 0 });
  t.like(mm.scan(priv, len, 0x5a, 0, 0xc3), { pattern: 0, file: 4, zero: 0 }, 'copies dropped: the file again');
  t.like(mm.scan(priv, len, 0x5a), { file: 0, other: 4 }, 'without the file seed, the file is foreign data');
  t.like(mm.scan(priv + 4096n, 8192, 0x5a, 4096, 0xc3), { file: 2 }, 'a part, compared at its file offset');
  mm.munmap(priv, len);
  closeSync(fd);
});
