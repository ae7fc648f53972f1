import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { pointLatest, RunFolder } from '../../reports/runfolder.js';

const execFileAsync = promisify(execFile);

import { RESULTS_SCHEMA } from '../../reports/results.js';

test('two runs in the same second get two folders; latest points at the newer', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mm-runs-'));
  const a = new RunFolder(root, '2026-01-01T00-00-00');
  const b = new RunFolder(root, '2026-01-01T00-00-00');
  t.is(a.id, '2026-01-01T00-00-00');
  t.is(b.id, '2026-01-01T00-00-00-2');
  t.is(readlinkSync(join(root, 'latest')), b.id);
});

test('save writes results.json and matrix.md whole', (t) => {
  const f = new RunFolder(mkdtempSync(join(tmpdir(), 'mm-runs-')), 'r');
  f.save({ schema: RESULTS_SCHEMA, runId: 'r', started: 's', finished: null, complete: false, kernels: [] });
  t.is(JSON.parse(readFileSync(join(f.dir, 'results.json'), 'utf8')).schema, RESULTS_SCHEMA);
  t.true(existsSync(join(f.dir, 'matrix.md')));
});

test('runs started at once into one runs dir each get their own folder, and latest is one of them', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mm-runs-'));
  const mod = new URL('../../reports/runfolder.js', import.meta.url).href;
  const script = `const { RunFolder } = await import(${JSON.stringify(mod)}); process.stdout.write(new RunFolder(${JSON.stringify(root)}, 'same').id);`;
  const runs = Array.from({ length: 6 }, () => execFileAsync(process.execPath, ['--input-type=module', '-e', script]));
  const ids = (await Promise.all(runs)).map((r) => r.stdout);
  t.is(new Set(ids).size, 6);
  t.true(ids.includes(readlinkSync(join(root, 'latest'))));
  t.deepEqual(
    readdirSync(root).filter((f) => f.startsWith('.latest')),
    [],
    'no temporary link left',
  );
});

test('latest is never made to point at itself', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mm-runs-'));
  t.throws(() => pointLatest(root, 'latest'));
  const a = new RunFolder(root, 'a');
  new RunFolder(root, a.id, true); // a resumed run re-points latest at its own folder
  t.is(readlinkSync(join(root, 'latest')), 'a');
});
