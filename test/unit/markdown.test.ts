import { readFileSync } from 'node:fs';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import { renderMarkdown } from '../../reports/markdown.js';
import type { KernelResult, Results } from '../../reports/results.js';
import { parseTap } from '../../runner/tap.js';
import { kernelResult, resultsOf } from '../helpers/results.js';

const kernel = (release: string, over: Partial<KernelResult> = {}): KernelResult =>
  kernelResult({
    id: release,
    version: '6.1.176-1',
    release,
    bootSeconds: 4.9,
    cases: parseTap(readFileSync(fromRoot('test/fixtures/zap-6.1.tap'), 'utf8')).cases,
    ...over,
  });
const results = (kernels: KernelResult[]): Results => resultsOf(kernels, { started: 'x', finished: 'y' });

test('one row per case, one column per kernel, labels in cells', (t) => {
  const md = renderMarkdown(results([kernel('6.1.0-50-amd64'), kernel('6.12.1', { cases: [] })]));
  t.true(md.includes('| case | 6.1.0-50-amd64 | 6.12.1 |'));
  t.true(md.includes('| madv_dontneed.anon-private | ok zeroed freed | — |'));
  t.true(md.includes('| madv_dontneed.hugetlbfs-private | EINVAL | — |'));
  t.true(md.includes('| madv_dontneed.hugetlbfs-shared | SKIP | — |'));
  t.true(md.includes('| 6.1.0-50-amd64 | debian:bookworm 6.1.176-1 | tcg | 4.90 s | 64/64 × 2048 kB | madvise |'));
});

test('a kernel that failed is listed with its phase', (t) => {
  const md = renderMarkdown({ ...results([kernel('x', { cases: [], error: { phase: 'boot', message: 'no SSH' } })]), complete: false });
  t.true(md.includes('(incomplete)'));
  t.true(md.includes('- debian:bookworm: boot: no SSH'));
});

test('verdicts mark cells and list deviations with their source', (t) => {
  const k = kernel('6.1.0-50-amd64');
  k.cases[0].verdict = { status: 'conformant', expected: 'ok zeroed freed', source: 'man' };
  k.cases[1].verdict = { status: 'deviation', expected: 'ok zeroed freed', source: 'commit 90e7e7f5ef3f' };
  const md = renderMarkdown(results([k]));
  t.true(md.includes('| madv_dontneed.anon-private | ok zeroed freed ✓ |'));
  t.true(md.includes('| madv_dontneed.hugetlbfs-private | EINVAL ✗ (expected ok zeroed freed) |'));
  t.true(md.includes('| 1 / 1 / 0 |'));
  t.regex(md, /## Deviations\n\n- 6\.1\.0-50-amd64 madv_dontneed\.hugetlbfs-private: observed `EINVAL`, expected `ok zeroed freed` \(commit 90e7e7f5ef3f\)/);
});

test('a case that left the pool off its baseline is marked and listed, and so is drift seen between suites', (t) => {
  const k = kernel('6.1.0-50-amd64', { poolDrift: [{ after: 'resv', drift: ['2048kB free 62/64'] }] });
  const c = k.cases.find((x) => x.id === 'madv_dontneed.anon-private')!;
  c.observation = { ...c.observation!, poolBalanced: false };
  const md = renderMarkdown(results([k]));
  t.true(md.includes('| madv_dontneed.anon-private | ok zeroed freed ⚠pool |'));
  t.true(md.includes('## Hugetlb pool leaks'));
  t.true(md.includes('- 6.1.0-50-amd64 madv_dontneed.anon-private: the hugetlb pool did not return to its pre-case baseline'));
  t.true(md.includes('- 6.1.0-50-amd64 after the resv suite: 2048kB free 62/64 against the baseline at boot'));
});

test('a case during which the kernel logged a WARNING is marked, listed with the lines, and FAILs', (t) => {
  const k = kernel('6.1.0-50-amd64');
  const c = k.cases.find((x) => x.id === 'madv_dontneed.anon-private')!;
  c.observation = { ...c.observation!, kernel: { taint: 512, log: ['WARNING: CPU: 0 PID: 9 at mm/madvise.c:1 x'] } };
  const md = renderMarkdown(results([k]));
  t.true(md.includes('| madv_dontneed.anon-private | ok zeroed freed ⚠kernel |'));
  t.true(md.includes('## Kernel warnings and taint'));
  t.true(md.includes('- 6.1.0-50-amd64 madv_dontneed.anon-private: taint 512'));
  t.true(md.includes('  - `WARNING: CPU: 0 PID: 9 at mm/madvise.c:1 x`'));
  t.regex(md, /1 FAIL/);
});

test('skip reasons are listed once each, with how many cells per kernel', (t) => {
  const md = renderMarkdown(results([kernel('6.1.0-50-amd64')]));
  const skipped = kernel('6.1.0-50-amd64').cases.filter((c) => c.status === 'skip');
  t.true(skipped.length > 0);
  t.true(md.includes(`## Skipped\n\n- ${skipped[0].reason}: `));
  t.regex(md, /: \d+ on 6\.1\.0-50-amd64/);
});
