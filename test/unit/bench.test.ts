import test from 'ava';
import { type BenchRow, benchMarkdown, median } from '../../runner/bench.js';

const row: BenchRow = {
  kernel: 'debian:bookworm',
  release: '6.1.0-50-amd64',
  accel: 'tcg',
  floor: [3.3, 3.1, 3.5],
  ssh: [4.6, 4.8, 4.5],
  restored: [0.8, 0.7, 0.9],
  cacheHitMs: 2.4,
  suites: [],
  firstCommand: [],
  vng: [],
};

test('bench figures: medians and their ratio; five-kernel totals cold and warm', (t) => {
  t.is(median([3, 1, 2]), 2);
  t.is(median([4, 1, 2, 3]), 2.5);
  const md = benchMarkdown([row], 3, { kernels: ['debian:bullseye', 'debian:bookworm'], cold: 249.4, warm: 162.2, exitCodes: [0, 0] });
  t.regex(md, /\| 6\.1\.0-50-amd64 \| tcg \| 3\.30 s \| 4\.60 s \| 1\.39 \| 0\.80 s \| 0\.24 \| 2 ms \|/);
  t.regex(md, /over debian:bullseye, debian:bookworm, one run each \(exit 0, 0\)/);
  t.regex(md, /\| cold \(empty cache: downloads, unpacking, images\) \| 4 min 9 s \|/);
  t.regex(md, /\| warm \(the same run again\) \| 2 min 42 s \|/);
  t.notRegex(benchMarkdown([row], 3), /one run each/);
  t.regex(
    benchMarkdown([row], 3, { kernels: ['debian:bookworm'], cold: 39.14, warm: 28.1, exitCodes: [0, 0] }),
    /\| warm \(the same run again\) \| 28\.1 s \|/,
  );
});

test('bench figures: suites in one guest, and the whole run of a kernel with its cells per second after boot', (t) => {
  const suites = [
    { family: 'zap', seconds: 8, cells: 140 },
    { family: 'resv', seconds: 2, cells: 64 },
  ];
  const md = benchMarkdown([{ ...row, suites, run: { seconds: 21, boot: 4, cells: 453, code: 0 } }], 3);
  t.regex(md, /\| 6\.1\.0-50-amd64 \| all, after boot \| 10\.00 s \| 204 \| 20\.4 \|/);
  t.regex(md, /\| 6\.1\.0-50-amd64 \| 21\.00 s \| 4\.00 s \| 453 \| 26\.6 \|/);
});

test('bench figures: a kernel that failed is listed with why, the others keep their figures', (t) => {
  const failed: BenchRow = { ...row, kernel: 'debian:trixie', release: 'debian:trixie', floor: [], ssh: [], restored: [], error: 'no vmlinuz' };
  const md = benchMarkdown([row, failed], 3);
  t.regex(md, /\| debian:trixie \| tcg \| failed: no vmlinuz \| \| \| \| \| \|\n/);
  t.regex(md, /\| 6\.1\.0-50-amd64 \| tcg \| 3\.30 s \| 4\.60 s \| 1\.39 \| 0\.80 s \| 0\.24 \| 2 ms \|/);
  t.notRegex(md, /NaN/);
});
