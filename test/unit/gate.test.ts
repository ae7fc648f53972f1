import test from 'ava';
import { diffKernels, gateFails, pairKernels, parseAllowlist, renderDiff } from '../../reports/diff.js';
import { Expectations } from '../../reports/expectations.js';
import { type Fingerprint, fingerprintDiff } from '../../reports/fingerprint.js';
import { htmlData, renderHtml } from '../../reports/html.js';
import { renderJunit } from '../../reports/junit.js';
import { renderMarkdown } from '../../reports/markdown.js';
import { mergeResults, parseShard, shardOf } from '../../reports/merge.js';
import { type CaseResult, type KernelResult, kernelTitle, type Results } from '../../reports/results.js';
import { kernelResult, observedCase, resultsOf } from '../helpers/results.js';

const obsCase = observedCase;
const kernel = (release: string, spec: string, cases: CaseResult[], over: Partial<KernelResult> = {}): KernelResult =>
  kernelResult({ spec, id: release, release, cases, ...over });
const results = (runId: string, kernels: KernelResult[]): Results => resultsOf(kernels, { runId, started: 'a', finished: 'b' });
const table = new Expectations({
  schema: 'mmatrix.expectations/1',
  expectations: [
    {
      cases: ['x.anon-private'],
      versions: [
        { below: '6.9', label: 'old' },
        { from: '6.9', label: 'new' },
      ],
      source: 'commit abc (v6.9)',
    },
  ],
});

test('a change the table predicts is expected, one in the allowlist accepted, any other unexplained', (t) => {
  const b = kernel('6.1.0', 'debian:bookworm', [obsCase('x.anon-private', 'old'), obsCase('y.anon-private', 'a'), obsCase('z.anon-private', 'p')]);
  const c = kernel('6.12.0', 'debian:trixie', [obsCase('x.anon-private', 'new'), obsCase('y.anon-private', 'b'), obsCase('z.anon-private', 'q')]);
  const allow = parseAllowlist('# known\ny.* upstream rework\n');
  const d = diffKernels(b, c, table, allow);
  t.deepEqual(
    d.changes.map((x) => [x.id, x.class]),
    [
      ['x.anon-private', 'expected'],
      ['y.anon-private', 'accepted'],
      ['z.anon-private', 'unexplained'],
    ],
  );
  t.is(d.changes[1].why, 'allowlist line 2: upstream rework');
  t.true(gateFails([d]));
  t.regex(renderDiff([d]), /3 changed cells: 1 unexplained, 1 expected, 1 accepted/);
  t.false(gateFails([diffKernels(b, c, table, parseAllowlist('*'))]));
  // No table: the predicted change is unexplained too.
  t.is(diffKernels(b, c, null, []).changes[0].class, 'unexplained');
});

test('a crash in the candidate fails the gate even with no changed cell', (t) => {
  const b = kernel('6.1.0', 'a', [obsCase('x.anon-private', 'old')]);
  const c = kernel('6.1.0', 'a', [obsCase('x.anon-private', 'old')], { error: { phase: 'boot', message: 'no SSH' } });
  const d = diffKernels(b, c, table, []);
  t.deepEqual(d.crashes, ['boot: no SSH']);
  t.true(gateFails([d]));
});

test('kernels of one release (a series beside its base) are told apart by build in every report', (t) => {
  const base = kernel('6.1.0', 'src:t', [obsCase('x.anon-private', 'old')]);
  const cand = kernel('6.1.0', 'src:t,patches=p', [obsCase('x.anon-private', 'new')], { version: '1 + 1 patch(es)' });
  t.regex(renderDiff([diffKernels(base, cand, table, [])]), /^## 6\.1\.0 \(1\) → 6\.1\.0 \(1 \+ 1 patch\(es\)\)$/m);
  const r = results('r', [base, cand, kernel('6.12.0', 'debian:trixie', [])]);
  t.regex(renderMarkdown(r), /^\| case \| 6\.1\.0 \(1\) \| 6\.1\.0 \(1 \+ 1 patch\(es\)\) \| 6\.12\.0 \|$/m);
  t.regex(renderJunit(r), /<testsuite name="6\.1\.0 \(1 \+ 1 patch\(es\)\)"/);
  // Same release and same version: the spec names them.
  t.is(kernelTitle(base, [base, { ...base, spec: 'src:u' }]), '6.1.0 (src:t)');
});

test('kernels pair by spec, or one against one', (t) => {
  const r = (...specs: string[]) =>
    results(
      'r',
      specs.map((s) => kernel('6.1', s, [])),
    );
  t.is(pairKernels(r('a'), r('b')).length, 1);
  t.deepEqual(
    pairKernels(r('a', 'b'), r('b', 'c')).map(([x, y]) => [x.spec, y.spec]),
    [['b', 'b']],
  );
  t.throws(() => pairKernels(r('a', 'b'), r('c', 'd')), { message: /no kernel of the candidate matches/ });
});

test('fingerprint differences are named; the suite version is the one that refuses', (t) => {
  const f: Fingerprint = {
    release: '6.1',
    kernelId: 'k',
    configHash: null,
    cmdline: '',
    pools: { '2048kB': 64 },
    pageSize: 4096,
    accel: 'tcg',
    qemu: '7.2',
    node: 'v20',
    suiteVersion: 's1',
  };
  t.deepEqual(
    fingerprintDiff(f, { ...f, release: '6.12', accel: 'kvm', pools: { '2048kB': 60 } }).map((d) => d.text),
    ['accel: tcg → kvm', 'pools: {"2048kB":64} → {"2048kB":60}'],
  );
  t.deepEqual(
    fingerprintDiff(f, { ...f, suiteVersion: 's2' }).map((d) => d.field),
    ['suiteVersion'],
  );
});

test('shards take every n-th kernel; merged they come back in version order', (t) => {
  const specs = ['a', 'b', 'c', 'd', 'e'];
  t.deepEqual(shardOf(specs, parseShard('1/2')), ['a', 'c', 'e']);
  t.deepEqual(shardOf(specs, parseShard('2/2')), ['b', 'd']);
  t.throws(() => parseShard('3/2'), { message: /bad shard '3\/2'/ });
  const k = (rel: string) => kernel(rel, `s${rel}`, [obsCase('x.anon-private', rel)]);
  const m = mergeResults([results('r2', [k('6.12.1'), k('7.2')]), results('r1', [k('5.10.1'), k('6.1.3')])], 'm');
  t.deepEqual(
    m.kernels.map((x) => x.release),
    ['5.10.1', '6.1.3', '6.12.1', '7.2'],
  );
  t.throws(() => mergeResults([results('r1', [k('6.1.3')]), results('r2', [k('6.1.3')])], 'm'), { message: /kernel '6\.1\.3' is in both r1 and r2/ });
});

test('junit: a testsuite per kernel; deviations fail, skips skip, a run error is an error', (t) => {
  const dev: CaseResult = { ...obsCase('x.anon-private', 'a <b>'), verdict: { status: 'deviation', expected: 'c', source: 's & t' } };
  const skip: CaseResult = { id: 'y.map-hugetlb-1g-private', status: 'skip', reason: 'no 1 GiB huge pages' };
  const x = renderJunit(results('r', [kernel('6.1', 'a', [dev, skip]), kernel('7.2', 'b', [], { error: { phase: 'boot', message: 'timeout' } })]));
  t.regex(x, /<testsuite name="6\.1" tests="2" failures="1" errors="0" skipped="1"/);
  t.regex(x, /<failure message="observed a &lt;b&gt;, expected c" type="deviation">s &amp; t<\/failure>/);
  t.regex(x, /<testsuite name="7\.2" tests="1" failures="0" errors="1" skipped="0"/);
  t.regex(x, /<testcase classname="7\.2" name="\(run\)" time="0">\s*<error message="boot: timeout">/);
});

test('html: grouped by family then memory type, data embedded so the file stands alone', (t) => {
  const r = results('r', [kernel('6.1', 'a', [obsCase('m.anon-private', '1', 'mremap'), obsCase('z.tmpfs-shared', '2'), obsCase('z.anon-private', '3')])]);
  t.deepEqual(
    htmlData(r).rows.map((x) => x.id),
    ['m.anon-private', 'z.anon-private', 'z.tmpfs-shared'],
  );
  const html = renderHtml({ ...r, runId: '</script><b>' });
  t.notRegex(html, /<script src=|<link /, 'no external assets');
  t.false(html.includes('</script><b>'), 'text from results cannot close the script element');
});
