// One verdict per case: junit.xml, the TAP stream, matrix.md's KCIDB counts and the exit code
// all follow reports/outcome.ts, for every outcome it knows.
import test from 'ava';
import { gate } from '../../reports/diff.js';
import { renderJunit } from '../../reports/junit.js';
import { kcidbStatus, OUTCOMES, type Outcome, outcomeOf, runExit } from '../../reports/outcome.js';
import type { CaseResult, KernelResult, Results } from '../../reports/results.js';
import { kernelSubtest } from '../../reports/tap14.js';
import { kernelResult, observation, resultsOf } from '../helpers/results.js';

const obs = (over: Partial<CaseResult['observation'] & object> = {}) => observation('x.anon-private', 'ok kept', over);
const st = (result: 'PASS' | 'FAIL') => ({ test: 'madv_populate', subtest: 'read', result, tree: 'linux-source-6.1=6.1.176-1', command: './madv_populate' });
const sample: Record<Exclude<Outcome, 'missing'>, CaseResult> = {
  conformant: { id: 'a.anon-private', status: 'observed', observation: obs(), verdict: { status: 'conformant', expected: 'ok kept', source: 's' } },
  unjudged: { id: 'b.anon-private', status: 'observed', observation: obs(), verdict: { status: 'none' } },
  deviation: { id: 'c.anon-private', status: 'observed', observation: obs(), verdict: { status: 'deviation', expected: 'EINVAL', source: 's' } },
  'pool-leak': {
    id: 'd.anon-private',
    status: 'observed',
    observation: obs({ poolBalanced: false }),
    verdict: { status: 'conformant', expected: 'ok kept', source: 's' },
  },
  'kernel-trouble': {
    id: 'e.anon-private',
    status: 'observed',
    observation: obs({ kernel: { taint: 512, log: ['WARNING: x'] } }),
    verdict: { status: 'conformant', expected: 'ok kept', source: 's' },
  },
  crash: { id: 'f.anon-private', status: 'crash', reason: 'the guest died' },
  'hung-kernel': { id: 'g.anon-private', status: 'timeout', reason: 'hung kernel: no result after 45 s' },
  'hung-test': { id: 'h.anon-private', status: 'timeout', reason: 'hung test: no result after 45 s' },
  'case-error': { id: 'i.anon-private', status: 'error', reason: 'threw' },
  skip: { id: 'j.anon-private', status: 'skip', reason: 'no pool' },
  'selftest-pass': { id: 'kselftest.mm.madv_populate.read', status: 'observed', selftest: st('PASS') },
  'selftest-fail': { id: 'kselftest.mm.madv_populate.write', status: 'observed', selftest: st('FAIL') },
};
const kernel = (cases: CaseResult[], over: Partial<KernelResult> = {}): KernelResult => kernelResult({ cases, ...over });
const results = (kernels: KernelResult[]): Results => resultsOf(kernels, { runId: 'r' });

for (const [name, c] of Object.entries(sample) as [Outcome, CaseResult][]) {
  test(`${name}: every renderer and the exit code say what the outcome table says`, (t) => {
    const row = OUTCOMES[name];
    t.is(outcomeOf(c), name);
    t.is(kcidbStatus(c), row.kcidb);
    const junit = renderJunit(results([kernel([c])]));
    const child = /<testcase [^>]*>\s*<(failure|error|skipped)\b/.exec(junit)?.[1] ?? 'pass';
    t.is(child, row.junit);
    const tap = kernelSubtest(kernel([c]), 1);
    t.regex(tap, new RegExp(`^ {4}${row.tapOk ? 'ok' : 'not ok'} 1 - ${c.id.replace('.', '\\.')}`, 'm'));
    t.is(runExit([kernel([c])], true), row.exit);
    t.is(runExit([kernel([c])], true, true), row.gated ? row.exit : 0);
  });
}

test('a run error or an incomplete run is exit 2 unless the kernel did wrong somewhere', (t) => {
  t.is(runExit([kernel([sample.conformant], { error: { phase: 'boot', message: 'x' } })], false), 2);
  t.is(runExit([kernel([sample.conformant])], false), 2);
  t.is(runExit([kernel([sample.crash], { error: { phase: 'boot', message: 'x' } })], false), 1);
  t.is(runExit([kernel([sample.conformant], { poolDrift: [{ after: 'resv', drift: ['2048kB free 62/64'] }] })], true, true), 1);
});

test('a baseline kernel missing from the candidate is MISS and fails the gate', (t) => {
  const base = results([kernel([sample.conformant]), kernel([sample.conformant], { spec: 'debian:trixie', release: '6.12.0' })]);
  const cand = results([kernel([sample.conformant])]);
  const g = gate(base, cand, null, []);
  t.true(g.fails);
  t.regex(g.markdown, /## 6\.12\.0: MISS/);
  t.false(gate(base, base, null, []).fails);
});

test('junit.xml carries each case duration and the kernel total, in seconds', (t) => {
  const k = kernel([{ ...sample.conformant, durationMs: 1234.5 }, { ...sample.deviation, durationMs: 20 }, sample.skip]);
  const xml = renderJunit(results([k]));
  t.regex(xml, /name="a\.anon-private" time="1\.234"/);
  t.regex(xml, /name="c\.anon-private" time="0\.020"/);
  t.regex(xml, /<testsuite [^>]* time="1\.254"/);
});
