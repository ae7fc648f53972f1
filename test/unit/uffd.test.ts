// The userfaultfd pieces of the addon on the host kernel, and the uffd family's words.
import { closeSync } from 'node:fs';
import test from 'ava';
import { K, mm } from '../../guest/native.js';
import { eventWord, factsOf, faultWord, ioctlNames } from '../../suites/uffd.js';
import { addrWord } from '../../suites/uffdio.js';

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
  t.like(mm.uffdTouch(u.fd, m.addr!, len, 4096, 9, 0, 0, 0), { missing: 0, pattern: 4, stuck: false }, 'present pages raise nothing');
  t.is(mm.madvise(m.addr!, len, K.MADV_DONTNEED).ret, 0);
  t.like(mm.uffdTouch(u.fd, m.addr!, len, 4096, 9, 0, 0, 0), { missing: 4, minor: 0, pattern: 4, zero: 0, stuck: false });
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
  t.like(mm.uffdTouch(u.fd, m.addr!, len, 4096, 5, 0, 0, 0), { minor: 4, missing: 0, pattern: 4, stuck: false });
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

/** An empty private anonymous mapping registered MISSING on a fresh userfaultfd with `features`. */
function emptyRegistered(t: { pass(m: string): void }, features = 0, mode = MISSING) {
  const u = mm.uffdOpen(features);
  if (u.errno !== undefined) {
    t.pass(`no userfaultfd on this host: ${u.errno}`);
    return null;
  }
  const m = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  const reg = mm.uffdRegister(u.fd, m.addr!, len, mode);
  if (reg.errno !== undefined) throw new Error(`register: ${reg.errno}`);
  return {
    fd: u.fd,
    addr: m.addr!,
    close: () => {
      mm.munmap(m.addr!, len);
      closeSync(u.fd);
    },
  };
}

test('a poke reports the fault address rounded to its page, exact with UFFD_FEATURE_EXACT_ADDRESS', (t) => {
  const r = emptyRegistered(t);
  if (!r) return;
  const p = mm.uffdPoke(r.fd, r.addr, len, 4096 + 0x123, 4096, 1);
  t.like(p, { missing: 1, stuck: false });
  const facts = factsOf(p as never, r.addr);
  t.is(addrWord(facts.faultOffset, 4096 + 0x123, 0), 'page');
  r.close();
  const probe = mm.uffdOpen(0);
  if (probe.errno !== undefined || !(probe.features & (1 << 11))) return;
  closeSync(probe.fd);
  const x = emptyRegistered(t, 1 << 11);
  if (!x) return;
  const q = factsOf(mm.uffdPoke(x.fd, x.addr, len, 4096 + 0x123, 4096, 1) as never, x.addr);
  t.is(addrWord(q.faultOffset, 4096 + 0x123, 0), 'exact');
  x.close();
});

test('the address word: exact, page, huge, or the offset', (t) => {
  t.is(addrWord(0x101234, 0x101234, 2 << 20), 'exact');
  t.is(addrWord(0x101000, 0x101234, 2 << 20), 'page');
  t.is(addrWord(0, 0x101234, 2 << 20), 'huge');
  t.is(addrWord(0x5000, 0x101234, 2 << 20), '0x5000');
  t.is(addrWord(undefined, 0x101234, 0), 'none');
});

test('UFFDIO_ZEROPAGE fills an empty range with zeros; UFFDIO_COPY onto a present page is EEXIST', (t) => {
  const r = emptyRegistered(t);
  if (!r) return;
  t.deepEqual(mm.uffdCall(r.fd, K.UFFD_CALL_ZEROPAGE, r.addr, 0, len, 0), { ret: len });
  t.like(mm.scan(r.addr, len, 1, 0, 0), { zero: 4, faulted: 0 });
  const src = mm.mmap(0, 4096, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.deepEqual(mm.uffdCall(r.fd, K.UFFD_CALL_COPY, r.addr, src.addr!, 4096, 0), { errno: 'EEXIST' });
  mm.munmap(src.addr!, 4096);
  r.close();
});

test('write protection: every written unit raises one WP fault, which the handler lifts', (t) => {
  const r = emptyRegistered(t, 0, 2);
  if (!r) return;
  t.true(mm.fill(r.addr, len, 4).ok);
  t.deepEqual(mm.uffdCall(r.fd, K.UFFD_CALL_WRITEPROTECT, r.addr, 0, len, 1), { ret: len });
  t.like(mm.uffdTouch(r.fd, r.addr, len, 4096, 4, 0, 0, 1), { wp: 4, missing: 0, pattern: 4, stuck: false });
  t.like(mm.uffdTouch(r.fd, r.addr, len, 4096, 4, 0, 0, 1), { wp: 0 }, 'lifted: a second write raises nothing');
  r.close();
});

test('UFFDIO_MOVE moves a filled range into an empty registered one, where the kernel has it', (t) => {
  const probe = mm.uffdOpen(0);
  if (probe.errno !== undefined) return t.pass(`no userfaultfd: ${probe.errno}`);
  closeSync(probe.fd);
  const r = emptyRegistered(t, probe.features & (1 << 16));
  if (!r) return;
  const src = mm.mmap(0, len, RW, K.MAP_PRIVATE | K.MAP_ANONYMOUS, -1, 0);
  t.true(mm.fill(src.addr!, len, 6).ok);
  const mv = mm.uffdCall(r.fd, K.UFFD_CALL_MOVE, r.addr, src.addr!, len, 0);
  if (!(probe.features & (1 << 16))) t.truthy(mv.errno, 'no UFFDIO_MOVE: refused');
  else {
    t.deepEqual(mv, { ret: len });
    t.like(mm.scan(r.addr, len, 6, 0, 0), { pattern: 4 });
    t.like(mm.scan(src.addr!, len, 6, 0, 0), { zero: 4 }, 'the source is left empty');
  }
  mm.munmap(src.addr!, len);
  r.close();
});
