import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import test from 'ava';
import { Parser } from 'tap-parser';
import { fromRoot } from '../../common/paths.js';
import { Expectations } from '../../reports/expectations.js';
import type { KernelResult, Results } from '../../reports/results.js';
import { kernelSubtest, tapHeader } from '../../reports/tap14.js';
import { listKernels, showCase } from '../../runner/commands.js';
import { parseTap } from '../../runner/tap.js';
import { kernelResult, resultsOf } from '../helpers/results.js';

const x = Expectations.load();
const cases = parseTap(readFileSync(fromRoot('test/fixtures/zap-6.1.tap'), 'utf8')).cases.map((c) => ({
  ...c,
  family: 'zap',
  ...(c.observation ? { verdict: x.judge(c.id, '5.10.0-32-amd64', c.observation.label) } : {}),
}));
const kernel = (over: Partial<KernelResult> = {}): KernelResult =>
  kernelResult({ spec: 'debian:bullseye', id: 'debian-5.10', version: '5.10.223-1', release: '5.10.0-32-amd64', bootSeconds: 4.9, cases, ...over });
const results = (kernels: KernelResult[]): Results => resultsOf(kernels);

test('results validate against the published JSON Schema; a broken one does not', (t) => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(fromRoot('reports/schema/results.schema.json'), 'utf8')));
  t.true(validate(JSON.parse(JSON.stringify(results([kernel()])))), JSON.stringify(validate.errors));
  const broken = JSON.parse(JSON.stringify(results([kernel()])));
  delete broken.kernels[0].cases[0].status;
  broken.kernels[0].cases[1].observation.len = 'four';
  t.false(validate(broken));
  t.true(validate.errors!.some((e) => e.message === "must have required property 'status'"));
});

test('--tap: one TAP 14 stream, a subtest per kernel, that tap-parser reads back', (t) => {
  const failing = kernel({ spec: 'debian:trixie', release: '6.12.1', error: { phase: 'boot', message: 'timeout' }, cases: [] });
  const text = tapHeader(2) + kernelSubtest(kernel(), 1) + kernelSubtest(failing, 2);
  const p = new Parser();
  const top: { ok: boolean; name: string }[] = [];
  let child = 0;
  p.on('assert', (r) => top.push({ ok: r.ok, name: r.name }));
  p.on('child', (c: Parser) => c.on('assert', () => child++));
  let summary: { ok: boolean; count: number } | null = null;
  p.on('complete', (f) => (summary = { ok: f.ok, count: f.count }));
  p.end(text);
  t.deepEqual(
    top.map((r) => [r.ok, r.name]),
    [
      [true, '5.10.0-32-amd64'],
      [false, '6.12.1'],
    ],
  );
  t.is(child, cases.length + 1, 'every case a point, and the failed kernel its run error');
  t.deepEqual(summary, { ok: false, count: 2 });
});

test('show gives each kernel the observation, the expectation and its source; a typo gets a suggestion', (t) => {
  const out = showCase(results([kernel()]), 'madv_dontneed.hugetlbfs-private', x);
  t.regex(out, /== 5\.10\.0-32-amd64 \(debian:bullseye 5\.10\.223-1, tcg\)/);
  t.regex(out, /label: EINVAL\nexpected: EINVAL ✓\nsource: commit 90e7e7f5ef3f/);
  t.regex(out, /"schema": "mmatrix\.observation\/4"/);
  t.throws(() => showCase(results([kernel()]), 'madv_dontned.hugetlbfs-private', x), { message: /did you mean madv_dontneed\.hugetlbfs-private/ });
});

test('kernels lists every Debian source with the version its lists name and whether it is cached', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'mmatrix-cache-'));
  mkdirSync(join(cache, 'apt', 'bookworm'), { recursive: true });
  writeFileSync(join(cache, 'apt', 'bookworm', 'resolved.json'), JSON.stringify({ stamp: 's', value: { version: '6.1.176-1' } }));
  mkdirSync(join(cache, 'kernels', 'debian-6.1.0-50_6.1.176-1'), { recursive: true });
  process.env.MMATRIX_CACHE = cache;
  const out = await listKernels(false);
  delete process.env.MMATRIX_CACHE;
  t.regex(out, /\| debian:bookworm \| 6\.1 \| 6\.1\.176-1 \| yes \|/);
  t.regex(out, /\| debian:sid \| 7\.2 \| \(not looked up; `mmatrix kernels --resolve`\) \| no \|/);
});
