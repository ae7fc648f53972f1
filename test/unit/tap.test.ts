import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import { Disturbed, runCases, SkipCase } from '../../guest/harness.js';
import { KernelWatch } from '../../guest/kmsg.js';
import { Tap } from '../../guest/tap.js';
import { parseTap } from '../../runner/tap.js';
import { observation } from '../helpers/results.js';

const fixture = readFileSync(fromRoot('test/fixtures/zap-6.1.tap'), 'utf8');

test('a golden stream becomes typed case results', (t) => {
  const r = parseTap(fixture);
  t.deepEqual(r.problems, []);
  t.deepEqual(
    r.cases.map((c) => [c.id, c.status]),
    [
      ['madv_dontneed.anon-private', 'observed'],
      ['madv_dontneed.hugetlbfs-private', 'observed'],
      ['madv_dontneed.hugetlbfs-shared', 'skip'],
    ],
  );
  const hp = r.cases[1].observation!;
  t.is(hp.errno, 'EINVAL');
  t.is(hp.ret, null);
  t.is(hp.content!.pattern, 1024);
  t.is(hp.poolBalanced, true);
  t.is(r.cases[2].reason, 'need 2 free huge pages, pool has 0');
});

test('a truncated stream is a plan mismatch', (t) => {
  const cut = fixture.split('\n').slice(0, 30).join('\n');
  t.true(parseTap(cut).problems.some((p) => /plan says 3 cases, stream has 1/.test(p)));
});

test('a point without a valid observation is an error, not a cell', (t) => {
  const r = parseTap('TAP version 14\n1..1\nok 1 - x.y\n  ---\n  schema: "mmatrix.observation/999"\n  ...\n');
  t.is(r.cases[0].status, 'error');
});

test('a not ok point carries the error the guest reported', (t) => {
  const r = parseTap('TAP version 14\n1..1\nnot ok 1 - x.y\n  ---\n  error: "mmap: ENOMEM"\n  ...\n');
  t.deepEqual(r.cases[0], { id: 'x.y', status: 'error', reason: 'mmap: ENOMEM' });
});

test('bail out is a stream problem', (t) => {
  t.true(parseTap('TAP version 14\nBail out! no pool\n').problems.some((p) => /bail out: no pool/.test(p)));
});

test('the guest emitter round-trips through tap-parser', (t) => {
  let out = '';
  const tap = new Tap((s) => (out += s));
  tap.plan(2);
  tap.point(false, 'a.b', { error: 'boom: "quoted"\nnext line' });
  tap.skip('c.d', 'no pool');
  tap.flush();
  const r = parseTap(out);
  t.deepEqual(r.problems, []);
  t.is(r.cases[0].reason, 'boom: "quoted"\nnext line');
  t.is(r.cases[1].status, 'skip');
});

test('the guest emitter holds its lines until flush, then writes them at once', (t) => {
  const writes: string[] = [];
  const tap = new Tap((s) => writes.push(s));
  tap.plan(2);
  tap.skip('a.b', 'no pool');
  tap.comment('case c.d');
  t.deepEqual(writes, []);
  tap.flush();
  tap.flush(); // nothing more to write
  t.deepEqual(writes, ['TAP version 14\n1..2\nok 1 - a.b # SKIP no pool\n# case c.d\n']);
  tap.bail('gone'); // a bail out goes at once
  t.deepEqual(writes.at(-1), 'Bail out! gone\n');
});

test('a case run by the harness carries its duration into the result, not into the observation', (t) => {
  let out = '';
  const obs = observation('x.anon-private', 'ok kept');
  runCases([{ id: 'x.anon-private', run: () => obs }], new Tap((s) => (out += s)), { since: () => null, close: () => {} } as never, undefined, null);
  t.regex(out, /duration_ms: \d/);
  const [c] = parseTap(out).cases;
  t.is(c.status, 'observed');
  t.true(typeof c.durationMs === 'number' && c.durationMs >= 0);
  t.deepEqual(c.observation, obs, 'the record is exactly what the case returned');
});

test('a case that finds it cannot ask its question once running is a SKIP with the reason, not an error', (t) => {
  let out = '';
  const failed = runCases(
    [
      {
        id: 'x.anon-thp-private',
        run: () => {
          throw new SkipCase('no THP backed the range');
        },
      },
    ],
    new Tap((s) => (out += s)),
    { since: () => null, close: () => {} } as never,
    undefined,
    null,
  );
  t.is(failed, 0);
  t.deepEqual(parseTap(out).cases, [{ id: 'x.anon-thp-private', status: 'skip', reason: 'no THP backed the range' }]);
});

test('a THP case during which khugepaged collapsed something runs again; every run raced is an error', (t) => {
  const quiet = { since: () => null, close: () => {} } as never;
  let collapsed = 0; // khugepaged's pages_collapsed, as the fake reads it
  let runs = 0;
  const kase = (id: string, khugepaged: boolean, raced: (run: number) => boolean) => ({
    id,
    khugepaged,
    run: () => {
      runs += 1;
      if (raced(runs)) collapsed += 1;
      return observation(id, 'ok present');
    },
  });
  let out = '';
  const tap = () => new Tap((s) => (out += s));
  t.is(
    runCases([kase('map_populate.anon-thp-private', true, (n) => n === 1)], tap(), quiet, () => String(collapsed), null),
    0,
  );
  t.is(runs, 2, 'raced once: run again');
  t.regex(out, /# khugepaged collapsed pages during map_populate\.anon-thp-private: run 2 of at most 3/);
  t.is(parseTap(out).cases[0].status, 'observed');
  out = '';
  t.is(
    runCases([kase('y.anon-thp-private', true, () => true)], tap(), quiet, () => String(collapsed), null),
    1,
    'every run raced: an error, never a label',
  );
  t.regex(out, /khugepaged collapsed pages during each of 3 runs/);
  runs = 0;
  t.is(
    runCases([kase('z.anon-private', false, () => true)], tap(), quiet, () => String(collapsed), null),
    0,
  );
  t.is(runs, 1, 'a case off THP regions is never run twice');
});

test('a case that throws Disturbed runs again; disturbed every time, it is an error', (t) => {
  const quiet = { since: () => null, close: () => {} } as never;
  let runs = 0;
  const kase = (id: string, disturbed: (run: number) => boolean) => ({
    id,
    run: () => {
      runs += 1;
      if (disturbed(runs)) throw new Disturbed('another thread mapped memory into the unmapped half');
      return observation(id, 'ENOMEM kept');
    },
  });
  let out = '';
  const tap = () => new Tap((s) => (out += s));
  t.is(
    runCases([kase('madv_dontneed@hole.ext4-private', (n) => n === 1)], tap(), quiet, () => null, null),
    0,
  );
  t.is(runs, 2);
  t.regex(out, /# another thread mapped memory into the unmapped half during madv_dontneed@hole\.ext4-private: run 2 of at most 3/);
  t.is(parseTap(out).cases[0].status, 'observed');
  out = '';
  t.is(
    runCases([kase('x@hole.anon-private', () => true)], tap(), quiet, () => null, null),
    1,
  );
  t.regex(out, /another thread mapped memory into the unmapped half during each of 3 runs/);
});

test("each case's kernel events are its own: the taint bits it set, once; none before the first case", (t) => {
  let tainted = 0x2000; // booted tainted E, as a Debian guest is
  const watch = new KernelWatch(() => tainted, '/nonexistent/kmsg');
  const cases = ['a', 'b', 'c'].map((id) => ({
    id: `${id}.anon-private`,
    run: () => {
      if (id === 'b') tainted |= 0x200; // W: a warning during b
      return observation(`${id}.anon-private`, 'ok kept');
    },
  }));
  let out = '';
  runCases(cases, new Tap((s) => (out += s)), watch, undefined, null);
  const kernel = parseTap(out).cases.map((c) => (c.observation as { kernel?: { taint: number } } | undefined)?.kernel?.taint ?? 0);
  t.deepEqual(kernel, [0, 0x200, 0], 'b set W; a and c set nothing, and E was there before any case');
});

test('with the console announcing, every run case is announced there first and the TAP goes out in batches', (t) => {
  let clock = 0; // ms, advanced by the cases
  const writes: string[] = [];
  const announced: string[] = [];
  let consoleOn = true;
  const ids = Array.from({ length: 30 }, (_, i) => `c${String(i).padStart(2, '0')}.anon-private`);
  const cases = ids.map((id, i) => ({
    id,
    skip: i === 3 ? 'no pool' : null,
    run: () => {
      if (consoleOn) t.is(announced.at(-1), id, 'announced before it runs');
      clock += 10;
      return observation(id, 'ok kept');
    },
  }));
  runCases(
    cases,
    new Tap(
      (s) => writes.push(s),
      () => clock,
    ),
    { since: () => null, close: () => {} } as never,
    () => null,
    (id) => announced.push(id),
  );
  t.deepEqual(
    announced,
    ids.filter((_, i) => i !== 3),
    'each case that runs, in order; a skip runs nothing',
  );
  t.is(writes.length, 2, 'one write when 200 ms had passed, one at the end');
  const r = parseTap(writes.join(''));
  t.deepEqual(r.problems, []);
  t.is(r.cases.length, 30);
  // Without the console, each case's announcement is out before it runs.
  writes.length = 0;
  consoleOn = false;
  runCases(
    cases.slice(0, 5),
    new Tap(
      (s) => writes.push(s),
      () => clock,
    ),
    { since: () => null, close: () => {} } as never,
    () => null,
    null,
  );
  t.is(writes.length, 5, 'a write before each of the four cases that run, and one at the end');
});

test('the kernel log is drained to EAGAIN, each record once, trouble lines kept', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-kmsg-'));
  const fifo = join(dir, 'kmsg');
  execFileSync('mkfifo', [fifo]);
  const watch = new KernelWatch(() => 0, fifo); // opened non-blocking, as /dev/kmsg is
  const writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK); // with a writer, an empty read is EAGAIN
  try {
    t.is(watch.since(), null, 'nothing logged yet');
    writeSync(writer, '4,7,100,-;BUG: Bad rss-counter state mm:0000 type:MM_ANONPAGES val:1\n');
    t.deepEqual(watch.since(), { taint: 0, log: ['BUG: Bad rss-counter state mm:0000 type:MM_ANONPAGES val:1'] });
    writeSync(writer, '6,8,200,-;mmatrix: case a.anon-private\n');
    t.is(watch.since(), null, 'a line that is no trouble is left out');
    t.is(watch.since(), null, 'a record read once is not read again');
  } finally {
    closeSync(writer);
    watch.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
