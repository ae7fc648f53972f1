// Seed 004's populate table: the seed's own figures read from its text, its conclusions as
// checks (on its own figures too), the cross-kernel findings and the report's layout.
import test from 'ava';
import { isPopulateFigures, isRequest } from '../../guest/protocol.js';
import { CHECKS, evaluate, type Figure, findings, parseSeedFigures, populateMarkdown, seedFigures, seedSizeFor } from '../../reports/populate.js';
import { methodsFor, SEED_BACKINGS } from '../../suites/popbench.js';

const MIB = 2 ** 20;
const seed = seedFigures();

test("the seed's figures: 190 of them, both sizes, both sharings, its seven backings", (t) => {
  t.is(seed.length, 190);
  t.deepEqual([...new Set(seed.map((f) => f.size / MIB))], [2, 4096]);
  t.deepEqual([...new Set(seed.map((f) => f.backing))].sort(), SEED_BACKINGS.map(([b]) => b).sort());
  t.is(seed.find((f) => f.size === 4096 * MIB && !f.shared && f.backing === 'Anon 4 KiB' && f.method === 'POPULATE_READ')?.ms, 124.31);
  t.deepEqual(parseSeedFigures('2 MiB MAP_SHARED:\nfile           : FALLOCATE+Read           :     0.197 ms\n'), [
    { size: 2 * MIB, shared: true, backing: 'file', method: 'FALLOCATE+Read', ms: 0.197 },
  ]);
});

test("the experiment's methods are the seed's: FALLOCATE rows only for shared mappings with a file", (t) => {
  const shared = seed.filter((f) => f.size === 2 * MIB && f.shared && f.backing === 'tmpfs').map((f) => f.method);
  t.deepEqual(methodsFor(true, true), shared);
  t.deepEqual(
    methodsFor(false, true),
    seed.filter((f) => f.size === 2 * MIB && !f.shared && f.backing === 'tmpfs').map((f) => f.method),
  );
  t.deepEqual(methodsFor(true, false), ['Read', 'Write', 'Read/Write', 'POPULATE_READ', 'POPULATE_WRITE']);
});

test("the conclusions on the seed's own figures: at 4096 MiB all hold but two shared-file comparisons, too close to call (its own slightly faster); at 2 MiB one fails", (t) => {
  const r = evaluate(seed, 4096 * MIB);
  t.is(r.length, CHECKS.length);
  const notClear = r.filter((x) => x.holds !== true);
  t.deepEqual(
    notClear.map((x) => [x.id, x.holds]),
    [
      ['V.2 POPULATE_READ beats reads', 'close'],
      ['V.2 files: FALLOCATE+Read', 'close'],
    ],
  );
  t.deepEqual(notClear[0].against, ['file: POPULATE_READ 661.642 ms ≈ Read 654.101 ms']);
  const small = evaluate(seed, 2 * MIB).find((x) => x.id === 'V.1 populate fastest');
  t.is(small?.holds, false, 'at 2 MiB a memfd POPULATE_READ (0.039 ms) is slower than a read (0.034 ms)');
  t.is(small?.against[0], 'Memfd 4 KiB: POPULATE_READ 0.039 ms > Read 0.034 ms');
});

const fig = (size: number, shared: boolean, backing: string, method: string, ms: number | null): Figure => ({ size, shared, backing, method, ms });

test('a conclusion that holds on one kernel and not another is a finding; a missing figure is neither', (t) => {
  const a = ['Anon 4 KiB', 'Memfd 4 KiB', 'tmpfs', 'file'].flatMap((b) => [fig(2 * MIB, true, b, 'Read', 2), fig(2 * MIB, true, b, 'POPULATE_READ', 1)]);
  const b = a.map((f) => (f.backing === 'tmpfs' && f.method === 'POPULATE_READ' ? { ...f, ms: 3 } : f));
  const found = findings(
    [
      { release: '6.1', figures: a, runs: 10 },
      { release: '6.12', figures: b, runs: 10 },
    ],
    [2 * MIB],
  );
  t.deepEqual(found, ['2 MiB: "POPULATE_READ is faster than simple reads" holds on 6.1 and not on 6.12']);
  t.is(evaluate([], 2 * MIB)[0].holds, null);
});

test("the report: the seed's size beside ours, ratios to Write, and the TCG caveat", (t) => {
  t.is(seedSizeFor(2 * MIB), 2 * MIB);
  t.is(seedSizeFor(32 * MIB), 4096 * MIB);
  const figures = [fig(32 * MIB, false, 'Anon 4 KiB', 'Write', 10), fig(32 * MIB, false, 'Anon 4 KiB', 'POPULATE_WRITE', 5)];
  const md = populateMarkdown([{ release: '6.1.0', figures, runs: 10 }], seed, 'a machine');
  t.regex(md, /### 32 MiB MAP_PRIVATE \(seed: 4096 MiB\)/);
  t.regex(md, /\| Anon 4 KiB \| POPULATE_WRITE \| 5\.000 \| 0\.50 \| 572\.582 \| 0\.\d\d \|/);
  t.regex(md, /Absolute times under TCG are not comparable/);
});

test('the populate request and its answer pass the protocol guards', (t) => {
  t.true(isRequest({ kind: 'populate', sizes: [2 * MIB], runs: 10 }));
  t.false(isRequest({ kind: 'populate', sizes: [0], runs: 10 }));
  t.true(isPopulateFigures({ runs: 10, figures: [fig(2 * MIB, true, 'file', 'Read', null)] }));
  t.false(isPopulateFigures({ runs: 10, figures: [{ size: 'x' }] }));
});
