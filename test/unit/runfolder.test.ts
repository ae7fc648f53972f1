import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunFolder } from '../../reports/runfolder.js';
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
