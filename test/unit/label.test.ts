import test from 'ava';
import { allocatedBytes, contentWord, label, minusContent, pagedWord, pmdWord, releasedBytes, thpWord } from '../../guest/label.js';
import { isObservation, OBSERVATION_SCHEMA } from '../../guest/protocol.js';

const c = (pattern: number, zero: number, other = 0, faulted = 0, signal?: 'SIGBUS', file = 0) => ({ pattern, file, zero, other, faulted, signal });

test('content words', (t) => {
  t.is(contentWord(c(4, 0)), 'kept');
  t.is(contentWord(c(0, 4)), 'zeroed');
  t.is(contentWord(c(2, 2)), 'mixed');
  t.is(contentWord(c(0, 0, 0, 0, undefined, 4)), 'file', "the backing file's own data");
  t.is(contentWord(c(0, 2, 0, 0, undefined, 2)), 'mixed', 'file data and zeros');
  t.is(contentWord(c(2, 0, 0, 0, undefined, 2)), 'mixed', 'the pattern and file data');
  t.is(contentWord(c(0, 0, 0, 4, 'SIGBUS')), 'SIGBUS');
});

test('labels: errno wins, then content, then freed', (t) => {
  t.is(label({ errno: 'EINVAL', content: c(4, 0), freed: false }), 'EINVAL');
  t.is(label({ errno: null, content: c(0, 4), freed: true }), 'ok zeroed freed');
  t.is(label({ errno: null, content: c(4, 0), freed: false }), 'ok kept');
});

test('paging words: swapped when swap entries replaced the range, unmapped when only the page tables lost it', (t) => {
  t.is(pagedWord(1024, 0, 1024, 1024), 'swapped');
  t.is(pagedWord(1024, 0, 0, 1024), 'unmapped', 'shmem: the swap entry is in the file, not the page table');
  t.is(pagedWord(1024, 1024, 0, 1024), null, 'nothing reclaimed');
  t.is(pagedWord(0, 0, 0, 1024), null, 'nothing was mapped to begin with');
  t.is(label({ errno: null, content: c(4, 0), freed: true, paged: 'swapped', thp: 'split' }), 'ok kept swapped freed split');
});

test('a private alias of the file is named last, whatever it reads', (t) => {
  t.is(label({ errno: null, content: c(0, 4), freed: true, alias: 'kept' }), 'ok zeroed freed alias:kept');
  t.is(label({ errno: 'EINVAL', content: c(4, 0), freed: false, alias: 'kept' }), 'EINVAL');
});

test('a call that fails late (a range with a hole) names what the mapped part holds, and its THP', (t) => {
  t.is(label({ errno: 'ENOMEM', content: c(0, 4), freed: true, contentAfterError: true }), 'ENOMEM zeroed');
  t.is(label({ errno: 'EINVAL', content: c(4, 0), freed: false, contentAfterError: true, thp: 'pmd' }), 'EINVAL kept pmd');
  t.is(label({ errno: 'ENOMEM', content: null, freed: null, contentAfterError: true }), 'ENOMEM', 'nothing read: the errno alone');
});

test("released and allocated bytes: a hugetlb type by its pool alone, others by shmem, file blocks and the range's anonymous pages", (t) => {
  t.is(releasedBytes({ hugeFree: 2, shmemKb: 0, anonKb: 0 }, 2 << 20), 4 << 20);
  t.is(releasedBytes({ hugeFree: 0, shmemKb: 0, anonKb: -2048 }, 2 << 20), 0); // hugetlb: anonymous pages are not its memory
  t.is(releasedBytes({ hugeFree: 0, shmemKb: -4096, anonKb: 12 }, 0), 4 << 20);
  t.is(releasedBytes({ hugeFree: 0, shmemKb: -4096, anonKb: 0, fileKb: -4096 }, 0), 4 << 20); // one shmem file, counted once
  t.is(releasedBytes({ hugeFree: 0, shmemKb: 0, anonKb: -1024 }, 0), 1 << 20);
  t.is(releasedBytes({ hugeFree: -1, shmemKb: 8, anonKb: 8 }, 0), 0);
  t.is(allocatedBytes({ hugeFree: -2, shmemKb: 0, anonKb: 4096 }, 2 << 20), 4 << 20);
  t.is(allocatedBytes({ hugeFree: 0, shmemKb: 0, anonKb: 4096 }, 0), 4 << 20);
});

test('the schema guard rejects other versions and missing fields', (t) => {
  const ok = { schema: OBSERVATION_SCHEMA, case: 'a.b', op: 'a', memtype: 'b', label: 'ok', len: 1, ret: 0, errno: null };
  t.true(isObservation(ok));
  t.false(isObservation({ ...ok, schema: 'mmatrix.observation/2' }));
  t.false(isObservation({ ...ok, schema: 'mmatrix.observation/3' }));
  t.false(isObservation({ ...ok, len: '1' }));
  t.false(isObservation({ ...ok, errno: 22 }));
  t.false(isObservation(null));
});

test('outside a part: the whole minus the part, with the signal only if faults remain', (t) => {
  t.deepEqual(minusContent(c(2, 2, 0, 1, 'SIGBUS'), c(0, 2, 0, 1, 'SIGBUS')), { pattern: 2, file: 0, zero: 0, other: 0, faulted: 0 });
  t.deepEqual(minusContent(c(0, 0, 0, 4, 'SIGBUS'), c(0, 0, 0, 2, 'SIGBUS')), { pattern: 0, file: 0, zero: 0, other: 0, faulted: 2, signal: 'SIGBUS' });
});

test('THP words: pmd when PMDs map the whole region after, split when an operation broke them up but data stays mapped', (t) => {
  const MB4 = 4 << 20;
  t.is(thpWord(0, 4096, MB4, false, true), 'pmd', 'a collapse took effect');
  t.is(thpWord(4096, 4096, MB4, false, true), 'pmd', 'MADV_FREE of whole PMDs keeps them');
  t.is(thpWord(4096, 0, MB4, true, false), 'split', 'DONTNEED of the middle split both THPs');
  t.is(thpWord(4096, 0, MB4, true, true), 'split', 'FREE of the middle split them too, the data kept');
  t.is(thpWord(4096, 0, MB4, false, false), null, 'DONTNEED of everything: nothing left to call split');
  t.is(thpWord(0, 0, MB4, true, false), null, 'no THP before, none after');
  t.is(label({ errno: null, content: c(0, 4), freed: true, thp: 'split' }), 'ok zeroed freed split');
  t.is(pmdWord({ pmdBefore: 4096, pmdAfter: 4096 }, MB4, false, true), 'pmd');
  t.is(pmdWord({ pmdBefore: 4096, pmdAfter: 0 }, MB4, false, true), 'split', 'a move to an unaligned address kept the data in PTEs');
  t.is(pmdWord({}, MB4, false, true), null, 'a case that did not ask has no THP word');
  t.is(pmdWord({ pmdBefore: null, pmdAfter: null }, MB4, false, true), null);
});
