// matrix.html of a five-kernel run in a real headless Chromium (Debian's) at 1500×1000: every
// kernel column on screen without a horizontal scroll, the full label and the expectation's
// source on hover, the changes view grouping every changed cell, the grid view drawn. The
// screenshots stay in the run folder.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import { kernelChanges } from '../../reports/changes.js';
import type { Results } from '../../reports/results.js';

const CLI = fromRoot('dist/runner/cli.js');
const chrome = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1500,1000'];
const attr = (dom: string, name: string) => /<body[^>]*>/.exec(dom)?.[0].match(new RegExp(`data-${name}="([^"]*)"`))?.[1];

test.serial('matrix.html of the five default kernels: all columns at 1500 px, changes and grid views, labels on hover', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-report-'));
  const r = spawnSync(process.execPath, [CLI, 'run', '-s', 'advice', '--runs-dir', runs], { cwd: fromRoot('.'), encoding: 'utf8', timeout: 30 * 60_000 });
  t.is(r.status, 0, r.stdout + r.stderr);
  const dir = join(runs, 'latest');
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
  t.is(results.kernels.length, 5);
  const html = `file://${join(dir, 'matrix.html')}`;
  const dom = (view: string) => {
    // The DOM of a big run is megabytes: past spawnSync's default 1 MB the dump is cut (ENOBUFS).
    const d = spawnSync('chromium', [...chrome, '--dump-dom', `${html}#view=${view}`], { encoding: 'utf8', timeout: 120_000, maxBuffer: 1 << 30 });
    t.is(d.error, undefined, String(d.error));
    t.is(d.status, 0, d.stderr);
    return d.stdout;
  };
  const matrix = dom('matrix');
  t.is(attr(matrix, 'view'), 'matrix');
  t.is(attr(matrix, 'columns-visible'), '5', 'every kernel column is on screen');
  t.true(Number(attr(matrix, 'scroll-width')) <= 1500, `no horizontal scroll (page is ${attr(matrix, 'scroll-width')} px wide)`);
  t.is(Number(attr(matrix, 'rendered')), results.kernels[0].cases.length, 'every case row is drawn');
  // Hover: a conformant cell's title holds its whole label, the expected one and the source.
  const c = results.kernels[4].cases.find((x) => x.verdict?.status === 'conformant' && (x.observation?.label.length ?? 0) > 6)!;
  const label = c.observation!.label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  t.regex(matrix, new RegExp(`title="[^"]*${label}\\nexpected: ${label}\\nsource: `), `hover on ${c.id}`);
  const changes = dom('changes');
  t.is(attr(changes, 'view'), 'changes');
  const counts = [...changes.matchAll(/<details class="group[^"]*" data-count="(\d+)"/g)].map((m) => Number(m[1]));
  const expected = kernelChanges(results);
  t.true(counts.length > 0, 'the changes view has groups');
  t.false(counts.includes(0), 'no group is empty');
  t.is(
    counts.reduce((a, b) => a + b, 0),
    expected.reduce((a, p) => a + p.total, 0),
    'every changed cell is in a group',
  );
  const grid = dom('grid');
  t.true(Number(attr(grid, 'squares')) > 0, 'the grid view draws its squares');
  for (const view of ['matrix', 'changes', 'grid']) {
    const shot = join(dir, `screenshot-${view}.png`);
    spawnSync('chromium', [...chrome, `--screenshot=${shot}`, `${html}#view=${view}`], { timeout: 120_000 });
    t.true(statSync(shot).size > 10_000, `${shot} was written`);
  }
});
