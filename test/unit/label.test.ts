import test from 'ava';
import { contentWord, label, minusContent, releasedBytes } from '../../guest/label.js';
import { isObservation, OBSERVATION_SCHEMA } from '../../guest/schema.js';

const c = (pattern: number, zero: number, other = 0, faulted = 0, signal?: 'SIGBUS') => ({ pattern, zero, other, faulted, signal });

test('content words', (t) => {
  t.is(contentWord(c(4, 0)), 'kept');
  t.is(contentWord(c(0, 4)), 'zeroed');
  t.is(contentWord(c(2, 2)), 'mixed');
  t.is(contentWord(c(0, 0, 0, 4, 'SIGBUS')), 'SIGBUS');
});

test('labels: errno wins, then content, then freed', (t) => {
  t.is(label({ errno: 'EINVAL', content: c(4, 0), freed: false }), 'EINVAL');
  t.is(label({ errno: null, content: c(0, 4), freed: true }), 'ok zeroed freed');
  t.is(label({ errno: null, content: c(4, 0), freed: false }), 'ok kept');
});

test('released bytes count huge pages, shmem and anon', (t) => {
  t.is(releasedBytes({ hugeFree: 2, shmemKb: 0, rssAnonKb: 0 }, 2 << 20), 4 << 20);
  t.is(releasedBytes({ hugeFree: 0, shmemKb: -4096, rssAnonKb: 12 }, 2 << 20), 4 << 20);
  t.is(releasedBytes({ hugeFree: -1, shmemKb: 8, rssAnonKb: 8 }, 2 << 20), 0);
});

test('the schema guard rejects other versions and missing fields', (t) => {
  const ok = { schema: OBSERVATION_SCHEMA, case: 'a.b', op: 'a', memtype: 'b', label: 'ok', len: 1, ret: 0, errno: null };
  t.true(isObservation(ok));
  t.false(isObservation({ ...ok, schema: 'mmatrix.observation/2' }));
  t.false(isObservation({ ...ok, len: '1' }));
  t.false(isObservation({ ...ok, errno: 22 }));
  t.false(isObservation(null));
});

test('outside a part: the whole minus the part, with the signal only if faults remain', (t) => {
  t.deepEqual(minusContent(c(2, 2, 0, 1, 'SIGBUS'), c(0, 2, 0, 1, 'SIGBUS')), { pattern: 2, zero: 0, other: 0, faulted: 0 });
  t.deepEqual(minusContent(c(0, 0, 0, 4, 'SIGBUS'), c(0, 0, 0, 2, 'SIGBUS')), { pattern: 0, zero: 0, other: 0, faulted: 2, signal: 'SIGBUS' });
});
