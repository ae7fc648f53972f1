// The guide: seed 002's list from uffd cells, and its matrix.md section.
import test from 'ava';
import type { Observation } from '../../guest/protocol.js';
import { guide, guideSection, renderGuide } from '../../reports/guide.js';
import { renderHtml } from '../../reports/html.js';
import { kernelResult, observation, resultsOf } from '../helpers/results.js';

const MB4 = 4 << 20;
const units = (n: number, word: string) => {
  const c = { pattern: 0, file: 0, zero: 0, other: 0, faulted: 0 };
  c[word === 'kept' ? 'pattern' : word === 'file' ? 'file' : 'zero'] = n;
  return c;
};
/** A uffd cell whose facts are those its label names, as the guest records them: the guide reads the facts. */
function cell(id: string, label: string, over: Partial<Observation> = {}) {
  const w = label.split(' ');
  const count = (k: string) => Number(w.find((x) => x.startsWith(`${k}:`))?.split(':')[1] ?? 0);
  const facts: Partial<Observation> = label.startsWith('register:')
    ? { registerErrno: label.slice(9), ret: 0 }
    : w[0] !== 'ok'
      ? { errno: w[0], ret: null }
      : {
          uffd: { missing: count('missing'), minor: count('minor'), wp: 0, remove: 0, unmap: 0, remap: 0, fork: 0, stuck: false },
          freed: w.includes('freed'),
          content: units(1024, w[2]),
        };
  return { id, family: 'uffd', status: 'observed' as const, observation: observation(id, label, { len: MB4, ...facts, ...over }) };
}
const run = resultsOf([
  kernelResult({
    release: '6.1.0',
    cases: [
      cell('uffd_missing_madv_dontneed.memfd-shared', 'ok none kept'),
      cell('uffd_missing_madv_remove.memfd-shared', 'ok missing:1024 kept freed'),
      cell('uffd_missing_punch_hole.memfd-shared', 'ok missing:1024 kept freed'),
      cell('uffd_missing_madv_free.memfd-shared', 'EINVAL'),
      cell('uffd_minor_madv_dontneed.memfd-shared', 'ok minor:1024 kept'),
      cell('uffd_missing_madv_dontneed@mid.memfd-shared', 'ok none kept'),
      cell('uffd_missing_madv_dontneed.memfd-private', 'ok none file freed'),
      cell('uffd_missing_madv_dontneed.hugetlbfs-shared', 'ok none kept'),
      cell('uffd_missing_punch_hole.hugetlbfs-shared', 'ok missing:2 kept freed'),
      cell('uffd_missing_madv_dontneed.anon-private', 'ok missing:512 kept freed'),
      cell('madv_dontneed.memfd-shared', 'ok kept'),
    ],
  }),
  kernelResult({
    release: '5.10.0',
    spec: 'debian:bullseye',
    cases: [cell('uffd_minor_madv_dontneed.memfd-shared', 'register:EINVAL'), cell('uffd_missing_punch_hole.memfd-shared', 'ok missing:1024 kept freed')],
  }),
]);

test('per memory type: the calls that free and guarantee a fault, those that do not, those that fail', (t) => {
  const [shared] = guide(run, { kernel: '6.1.0', memtype: 'memfd-shared' });
  t.deepEqual(shared.guaranteed, ['MADV_REMOVE', 'fallocate(PUNCH_HOLE)']);
  t.deepEqual(shared.minor, ['MADV_DONTNEED']);
  t.deepEqual(shared.noFault, ['MADV_DONTNEED (reads kept)'], 'the @mid case is not the whole range and is left out');
  t.deepEqual(shared.fails, ['MADV_FREE EINVAL']);
  t.regex(shared.seed ?? '', /shmem VM_SHARED -> fallocate\(PUNCH_HOLE\)\): borne out/);
  const huge = guide(run, { kernel: '6.1.0', memtype: 'hugetlbfs-shared' })[0];
  t.deepEqual(huge.guaranteed, ['fallocate(PUNCH_HOLE)'], 'two faults are every huge page of a hugetlb case');
});

test("seed 002's pick is called contradicted where the matrix says it does not fault, with why", (t) => {
  const [priv] = guide(run, { memtype: 'memfd-private', kernel: '6.1.0' });
  t.regex(priv.seed ?? '', /CONTRADICTED here: MADV_DONTNEED does not fault \(reads file\), as the file holds data of its own/);
  const [anon] = guide(run, { memtype: 'anon-private' });
  t.deepEqual(anon.guaranteed, [], '512 faults of 1024 units is not a guarantee');
  t.regex(anon.seed ?? '', /CONTRADICTED/);
});

test('a refused registration is no result; the text and the matrix.md section', (t) => {
  const [old] = guide(run, { kernel: 'debian:bullseye' });
  t.deepEqual(old.minor, []);
  t.deepEqual(old.guaranteed, ['fallocate(PUNCH_HOLE)']);
  const [hugeOld] = guide(resultsOf([kernelResult({ cases: [cell('uffd_missing_madv_dontneed.hugetlbfs-shared', 'EINVAL')] })]));
  t.regex(hugeOld.seed ?? '', /hugetlbfs VM_SHARED -> fallocate\(PUNCH_HOLE\)\): not in this run/, 'a pick the run did not try is not contradicted');
  const text = renderGuide(guide(run));
  t.regex(text, /^6\.1\.0\n {2}memfd-shared\n {4}frees and guarantees a MISSING fault: MADV_REMOVE, fallocate\(PUNCH_HOLE\)/m);
  const md = guideSection(run).join('\n');
  t.regex(md, /## Zap call per memory type \(userfaultfd\)/);
  t.regex(md, /\| memfd-private \| — \(contradicts seed 002\) \| — \|/);
});

test('matrix.html gets the table as a view of its own, and none without uffd cells', (t) => {
  const html = renderHtml(run);
  t.regex(html, /<button data-view="guide">Zap call per memory type<\/button>/);
  t.regex(html, /<div id="guide" class="view">.*<td>memfd-shared<\/td><td>MADV_REMOVE, fallocate\(PUNCH_HOLE\); MINOR: MADV_DONTNEED<\/td>/s);
  t.notRegex(renderHtml(resultsOf([kernelResult()])), /id="guide"/);
});

test('bad input: an unknown kernel, or a run without uffd cells, is a one-line error', (t) => {
  t.throws(() => guide(run, { kernel: '4.19' }), { message: /no kernel '4\.19' in run r1 \(it has: 6\.1\.0, 5\.10\.0\)/ });
  t.throws(() => guide(resultsOf([kernelResult()])), { message: /no uffd zap-then-touch cells: run it with -s uffd/ });
});

test('the guide decides on the observation, not on its label', (t) => {
  const facts = { uffd: { missing: 1024, minor: 0, wp: 0, remove: 0, unmap: 0, remap: 0, fork: 0, stuck: false }, freed: true, content: units(1024, 'kept') };
  const r = resultsOf([kernelResult({ cases: [cell('uffd_missing_madv_remove.tmpfs-shared', 'ok none kept', facts)] })]);
  t.deepEqual(guide(r)[0].guaranteed, ['MADV_REMOVE']);
});
