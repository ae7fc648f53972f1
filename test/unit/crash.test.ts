import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { withJournal } from '../../reports/merge.js';
import { kcidbStatus } from '../../reports/outcome.js';
import { type CaseResult, RESULTS_SCHEMA, type Results } from '../../reports/results.js';
import { familyRequest } from '../../runner/family.js';
import { TapStream } from '../../runner/tap.js';

test('the case announced last and never answered is the culprit', (t) => {
  const s = new TapStream();
  s.write('TAP version 14\n1..3\n# case a.anon-private\nok 1 - a.anon-private # SKIP no\n');
  t.is(s.started, null, 'its point closes an announced case');
  s.write('# case b.anon-private\n');
  t.is(s.started, 'b.anon-private');
  const p = s.end();
  t.deepEqual(
    p.cases.map((c) => c.id),
    ['a.anon-private'],
  );
  t.is(p.problems[0], 'plan says 3 cases, stream has 1');
});

test('KCIDB statuses: the kernel failing, the harness erring, and a hung test apart from a hung kernel', (t) => {
  const c = (over: Partial<CaseResult>): CaseResult => ({ id: 'x', status: 'observed', ...over });
  t.is(kcidbStatus(undefined), 'MISS');
  t.is(kcidbStatus(c({ status: 'skip' })), 'SKIP');
  t.is(kcidbStatus(c({ status: 'error' })), 'ERROR');
  t.is(kcidbStatus(c({ status: 'crash' })), 'FAIL');
  t.is(kcidbStatus(c({ status: 'timeout', reason: 'hung test: no result after 15 s' })), 'ERROR');
  t.is(kcidbStatus(c({ status: 'timeout', reason: 'hung kernel: no result after 15 s' })), 'FAIL');
  t.is(kcidbStatus(c({ verdict: { status: 'deviation', expected: 'a', source: 's' } })), 'FAIL');
  t.is(kcidbStatus(c({ verdict: { status: 'conformant', expected: 'a', source: 's' } })), 'PASS');
  t.is(kcidbStatus(c({ verdict: { status: 'none' } })), 'DONE');
});

test('cases the journal has and results.json lacks are added back; a torn last line is ignored', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-journal-'));
  const r: Results = {
    schema: RESULTS_SCHEMA,
    runId: 'r',
    started: 'a',
    finished: null,
    complete: false,
    kernels: [
      {
        spec: 'debian:bookworm',
        id: 'k',
        version: '',
        release: null,
        accel: null,
        bootSeconds: null,
        hugePageKb: null,
        hugepagesRequested: 64,
        hugepagesObtained: null,
        thp: null,
        error: null,
        cases: [{ id: 'a', family: 'zap', status: 'skip' }],
      },
    ],
  };
  const line = (id: string) => JSON.stringify({ kernel: 'debian:bookworm', id, family: 'zap', status: 'skip' });
  writeFileSync(join(dir, 'cases.jsonl'), `${line('a')}\n${line('b')}\n{"kernel":"debian:book`);
  t.deepEqual(
    withJournal(r, dir).kernels[0].cases.map((c) => c.id),
    ['a', 'b'],
  );
});

test('the guest request names the family and its cases, resumes after a culprit, and allows test families only by name', (t) => {
  t.deepEqual(familyRequest('zap', ['*.hugetlbfs-*'], null, 'kvm'), { kind: 'family', family: 'zap', patterns: ['*.hugetlbfs-*'] });
  t.deepEqual(familyRequest('panic', [], 'a.anon-private', 'kvm', ['sysrq_crash.anon-private']), {
    kind: 'family',
    family: 'panic',
    after: 'a.anon-private',
    exclude: ['sysrq_crash.anon-private'],
    test: true,
  });
  t.deepEqual(familyRequest('zap', [], null, 'tcg'), { kind: 'family', family: 'zap', console: true }, 'under TCG the console announces the cases');
});
