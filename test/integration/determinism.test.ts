// Three runs of one kernel give identical matrices: the number of cells that differ is
// reported, and must be 0 (a case that races something in the kernel shows up here). The
// first two restore their guests from the kernel's snapshot (made by the first if the cache
// has none), the third boots them: a restored guest must observe what a booted one does.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import { deviationLines, type Results } from '../../reports/results.js';

test.serial('three runs of 7.3 give the same matrix, restored from a snapshot or booted', (t) => {
  const runs = [[], [], ['--no-snapshot']].map((flags, i) => {
    const dir = mkdtempSync(join(tmpdir(), 'mmatrix-det-'));
    const r = spawnSync(process.execPath, [fromRoot('dist/runner/cli.js'), 'run', '-k', 'debian:experimental', ...flags, '--runs-dir', dir], {
      cwd: fromRoot('.'),
      encoding: 'utf8',
      timeout: 15 * 60_000,
    });
    const res = JSON.parse(readFileSync(join(dir, 'latest', 'results.json'), 'utf8')) as Results;
    t.deepEqual(deviationLines(res.kernels, 50), [], 'cells off their expectation');
    t.is(r.status, 0, r.stdout.slice(-2000) + r.stderr);
    if (i === 1) t.notRegex(r.stdout + r.stderr, /snapshot of a booted guest made/, 'the second run finds the snapshot cached');
    const ready = [...(r.stdout + r.stderr).matchAll(/SSH ready in ([\d.]+) s/g)].map((m) => Number(m[1]));
    t.log(`run ${i + 1}${flags.length ? ' (booted)' : ''}: SSH ready in ${ready.join(', ')} s`);
    return new Map(res.kernels[0].cases.map((c) => [c.id, c.observation?.label ?? c.status]));
  });
  const ids = [...runs[0].keys()];
  const differ = ids.filter((id) => runs.some((r) => r.get(id) !== runs[0].get(id)));
  t.log(`${ids.length} cells per run; ${differ.length} differ across three runs${differ.length ? `: ${differ.join(', ')}` : ''}`);
  t.true(ids.length > 600);
  t.deepEqual(differ, []);
});
