// The userfaultfd pieces of the addon on the host kernel, and the uffd family's words.
import { closeSync } from 'node:fs';
import test from 'ava';
import { K, mm } from '../../guest/native.js';
import { eventWord, faultWord, ioctlNames } from '../../suites/uffd.js';

const RW = K.PROT_READ | K.PROT_WRITE;
const len = 4 * 4096;
const MISSING = 1;
const MINOR = 4;

test('fault words and ioctl names', (t) => {
  t.is(faultWord({ missing: 1024, minor: 0, wp: 0 }), 'missing:1024');
  t.is(faultWord({ missing: 0, minor: 2, wp: 0 }), 'minor:2');
  t.is(faultWord({ missing: 0, minor: 0, wp: 0 }), 'none', 'the kernel filled every page itself');
  t.is(eventWord({ remove: 0, unmap: 1, remap: 1, fork: 0 }), 'unmap:1 remap:1');
  t.is(eventWord({ remove: 0, unmap: 0, remap: 0, fork: 0 }), 'none');
  t.deepEqual(ioctlNames((1n << 2n) | (1n << 3n) | (1n << 4n) | (1n << 63n)), ['wake', 'copy', 'zeropage']);
});

test('a missing fault after MADV_DONTNEED is resolved with the original data; a touch of present pages meets none', (t) => {
  const u = mm.uffdOpen(0);
  if (u.errno !== undefined) return t.pass(`no userfaultfd on this host: ${u.errno}`);
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.true(mm.fill(m.addr!, len, 9).ok);
  t.is(mm.uffdRegister(u.fd, m.addr!, len, MISSING).errno, undefined);
  t.like(mm.uffdTouch(u.fd, m.addr!, len, 4096, 9, 0, 0), { missing: 0, pattern: 4, stuck: false }, 'present pages raise nothing');
  t.is(mm.madvise(m.addr!, len, K.MADV_DONTNEED).ret, 0);
  t.like(mm.uffdTouch(u.fd, m.addr!, len, 4096, 9, 0, 0), { missing: 4, minor: 0, pattern: 4, zero: 0, stuck: false });
  mm.munmap(m.addr!, len);
  closeSync(u.fd);
});

test('a minor fault on shmem after MADV_DONTNEED is resolved with UFFDIO_CONTINUE: the page cache kept the data', (t) => {
  const probe = mm.uffdOpen(0);
  if (probe.errno !== undefined) return t.pass(`no userfaultfd on this host: ${probe.errno}`);
  closeSync(probe.fd);
  const u = mm.uffdOpen(1 << 10); // UFFD_FEATURE_MINOR_SHMEM
  if (u.errno !== undefined) return t.pass(`no minor faults on shmem here: ${u.errno}`);
  const fd = mm.memfdCreate('uffd', K.MFD_CLOEXEC).ret!;
  mm.ftruncate(fd, len);
  const m = mm.mmap(0, len, RW, K.MAP_SHARED, fd, 0);
  t.true(mm.fill(m.addr!, len, 5).ok);
  const reg = mm.uffdRegister(u.fd, m.addr!, len, MINOR);
  t.is(reg.errno, undefined);
  t.true(ioctlNames(reg.ioctls!).includes('continue'));
  t.is(mm.madvise(m.addr!, len, K.MADV_DONTNEED).ret, 0);
  t.like(mm.uffdTouch(u.fd, m.addr!, len, 4096, 5, 0, 0), { minor: 4, missing: 0, pattern: 4, stuck: false });
  mm.munmap(m.addr!, len);
  closeSync(fd);
  closeSync(u.fd);
});

test('events: the handler reads UFFD_EVENT_REMOVE and UFFD_EVENT_UNMAP while the call waits for it', (t) => {
  const probe = mm.uffdOpen(0);
  if (probe.errno !== undefined) return t.pass(`no userfaultfd on this host: ${probe.errno}`);
  closeSync(probe.fd);
  const u = mm.uffdOpen((1 << 3) | (1 << 6)); // EVENT_REMOVE | EVENT_UNMAP
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.true(mm.fill(m.addr!, len, 3).ok);
  t.is(mm.uffdRegister(u.fd!, m.addr!, len, MISSING).errno, undefined);
  const h = mm.uffdStart(u.fd!, m.addr!, len, 4096, 3);
  t.is(mm.madvise(m.addr!, len, K.MADV_DONTNEED).ret, 0);
  t.like(mm.uffdStop(h.handle!), { remove: 1, unmap: 0, missing: 0 });
  const h2 = mm.uffdStart(u.fd!, m.addr!, len, 4096, 3);
  t.is(mm.munmap(m.addr!, len).ret, 0);
  t.like(mm.uffdStop(h2.handle!), { unmap: 1, remove: 0 });
  closeSync(u.fd!);
});
