// The run pipeline (scheduler, session, crash and hang recovery, recorder, resume) against a
// fake Host: no QEMU, milliseconds a test. The real-QEMU paths stay in test/integration.
import test from 'ava';
import { runWith } from '../../runner/run.js';
import { takingOrder } from '../../runner/scheduler.js';
import type { Family } from '../../suites/families.js';
import { FakeHost, fakeRun, type Script } from '../fakes/guest.js';
import { kernelResult, observedCase, resultsOf } from '../helpers/results.js';

const FAMILIES: Family[] = ['zap', 'populate', 'mremap', 'advice', 'resv'];
const twoCases: Script = (family, after) => ({ cases: [`${family}_a.anon-private`, `${family}_b.anon-private`].filter((id) => !after || id > after) });
const ids = (cases: { id: string }[]) => cases.map((c) => c.id);
const familyRequests = (host: FakeHost) => host.guests.flatMap((g) => g.requests.flatMap((r) => (r.kind === 'family' ? [r] : [])));

test('one kernel, two guests: the second takes families while the first works, each family runs once, cases in family order', async (t) => {
  const host = new FakeHost(twoCases);
  const r = fakeRun(['debian:bookworm'], FAMILIES, { jobs: 2 });
  await runWith(r.options, host, r.recorder);
  t.is(host.guests.length, 2, 'a second guest was booted for the same kernel');
  t.deepEqual(host.prepared, ['debian:bookworm'], 'the kernel is prepared once');
  const asked = familyRequests(host).map((q) => q.family);
  t.deepEqual([...asked].sort(), [...FAMILIES].sort(), 'every family once');
  t.true(
    host.guests.every((g) => g.requests.some((q) => q.kind === 'family')),
    'both guests ran families',
  );
  const k = r.results.kernels[0];
  t.deepEqual(
    ids(k.cases),
    FAMILIES.flatMap((f) => [`${f}_a.anon-private`, `${f}_b.anon-private`]),
  );
  t.deepEqual([...(k.familiesDone ?? [])].sort(), [...FAMILIES].sort());
  t.is(r.folder.journal.length, 10, 'every case journaled as it came');
  t.true(r.folder.resultSaves >= FAMILIES.length, 'results.json saved after every family');
  t.is(r.folder.saves, 1, 'the reports rendered once, at the end');
  t.true(
    host.guests.every((g) => g.closed),
    'every guest closed',
  );
  t.is(r.done.length, 1, 'the kernel is reported done once');
  t.true(r.results.complete);
  t.is(k.fingerprint?.release, k.release ?? undefined);
});

test('two kernels, two guests: each gets its own, none helps another that has nothing left to share', async (t) => {
  const host = new FakeHost(twoCases);
  const r = fakeRun(['debian:bookworm', 'debian:trixie'], ['zap'], { jobs: 2 });
  await runWith(r.options, host, r.recorder);
  t.deepEqual(host.guests.map((g) => g.kernel.spec).sort(), ['debian:bookworm', 'debian:trixie']);
  t.deepEqual(
    r.results.kernels.map((k) => k.spec),
    ['debian:bookworm', 'debian:trixie'],
    'kernels in the order asked for',
  );
  t.true(r.results.kernels.every((k) => k.cases.length === 2));
});

/** One kernel's zap family through the fake host; its cases as [id, status]. */
async function zapWith(script: Script, consoleAnnounces = true, accel = 'tcg') {
  const host = new FakeHost(script);
  host.consoleAnnounces = consoleAnnounces;
  host.accel = accel;
  const r = fakeRun(['debian:bookworm'], ['zap']);
  await runWith(r.options, host, r.recorder);
  const k = r.results.kernels[0];
  return { host, r, k, statuses: k.cases.map((c) => [c.id, c.status]) };
}

test('a case that kills the guest is the culprit: crash, a fresh guest, and the family goes on after it', async (t) => {
  const script: Script = (_family, after) =>
    after ? { cases: ['c.anon-private'] } : { cases: ['a.anon-private'], dies: { during: 'b.anon-private', ended: 'lost', guestDies: true } };
  // Named by the console's announcement (TCG), or by the TAP stream's of a guest whose console
  // cannot, or of one under KVM, which is not asked to.
  for (const [consoleAnnounces, accel] of [
    [true, 'tcg'],
    [false, 'tcg'],
    [true, 'kvm'],
  ] as const) {
    const { host, r, k, statuses } = await zapWith(script, consoleAnnounces, accel);
    t.deepEqual(statuses, [
      ['a.anon-private', 'observed'],
      ['b.anon-private', 'crash'],
      ['c.anon-private', 'observed'],
    ]);
    t.is(k.cases[1].reason, 'the guest died during the case');
    t.is(host.guests.length, 2, 'a fresh guest');
    t.deepEqual(host.guests[1].requests.at(-1), {
      kind: 'family',
      family: 'zap',
      after: 'a.anon-private',
      exclude: ['b.anon-private'],
      ...(accel === 'tcg' ? { console: true } : {}),
    });
    t.true(host.guests[0].closed);
    t.is(k.error, null);
    t.deepEqual(k.familiesDone, ['zap']);
    t.true(r.lines.some((l) => l.includes('booting a fresh guest to go on after b.anon-private')));
  }
});

test('cases whose points the guest still held when it died run again on the fresh guest; the culprit, named by the console, does not', async (t) => {
  const script: Script = (_family, after) =>
    after
      ? { cases: ['b.anon-private', 'd.anon-private'] }
      : { cases: ['a.anon-private', 'b.anon-private'], dies: { during: 'c.anon-private', ended: 'lost', guestDies: true, unsent: 1 } };
  const { host, r, statuses } = await zapWith(script);
  const order = ['a.anon-private', 'c.anon-private', 'b.anon-private', 'd.anon-private'];
  t.deepEqual(
    statuses,
    order.map((id) => [id, id.startsWith('c') ? 'crash' : 'observed']),
  );
  t.deepEqual(host.guests[1].requests.at(-1), { kind: 'family', family: 'zap', after: 'a.anon-private', exclude: ['c.anon-private'], console: true });
  t.deepEqual(
    r.folder.journal.map((j) => j.id),
    order,
    'each case journaled once',
  );
});

test('a case that prints nothing for the case timeout: a hung test while SSH answers, a hung kernel when it does not', async (t) => {
  for (const [answersSsh, reason] of [
    [true, /^hung test: no result after 0\.05 s without output; the kernel still answers SSH$/],
    [false, /^hung kernel: no result after 0\.05 s without output, and the guest no longer answers SSH$/],
  ] as const) {
    const script: Script = (_f, _after, guest) =>
      guest.n > 1 ? { cases: [] } : { cases: [], dies: { during: 'h.anon-private', ended: 'idle', guestDies: false, answersSsh } };
    const host = new FakeHost(script);
    const r = fakeRun(['debian:bookworm'], ['zap']);
    await runWith(r.options, host, r.recorder);
    const c = r.results.kernels[0].cases[0];
    t.is(c.status, 'timeout');
    t.regex(c.reason ?? '', reason);
    t.is(host.guests.length, 2);
  }
});

test("the guest's node process dying mid-case is the case's error, with how it ended and the kernel's log; the family goes on", async (t) => {
  const script: Script = (_f, after) =>
    after ? { cases: ['z.anon-private'] } : { cases: ['a.anon-private'], dies: { during: 'm.ext4-shared', ended: 'exit', guestDies: false, signal: 'SEGV' } };
  const host = new FakeHost(script);
  const r = fakeRun(['debian:bookworm'], ['zap']);
  await runWith(r.options, host, r.recorder);
  const [a, m, z] = r.results.kernels[0].cases;
  t.is(a.status, 'observed');
  t.like(m, { id: 'm.ext4-shared', status: 'error', reason: "the guest's node process was killed by SEGV during the case" });
  t.regex(m.console ?? '', /dmesg:\n.*node\[201\]: segfault/);
  t.is(z.status, 'observed', 'a fresh guest went on after it');
  t.is(host.guests.length, 2);
});

test('a guest that takes five guests down in a row ends the kernel with a run error, its cases kept', async (t) => {
  let n = 0;
  const script: Script = () => ({ cases: [], dies: { during: `x${n++}.anon-private`, ended: 'lost', guestDies: true } });
  const host = new FakeHost(script);
  const r = fakeRun(['debian:bookworm'], ['zap', 'populate']);
  await runWith(r.options, host, r.recorder);
  const k = r.results.kernels[0];
  t.is(k.error?.phase, 'run');
  t.regex(k.error?.message ?? '', /6 cases took the guest down; giving up/);
  t.is(k.cases.filter((c) => c.status === 'crash').length, 6);
  t.false(
    familyRequests(host).some((q) => q.family === 'populate'),
    'the kernel stops there',
  );
  t.false(r.results.complete);
  t.true(host.guests.every((g) => g.closed));
});

test('resume after a crash: the cases came out of order, and each runs once, none left out', async (t) => {
  // a, then c took the guest down, then b (its point lost in that crash) ran again: killed there.
  const before = kernelResult({
    spec: 'debian:bookworm',
    cases: [
      observedCase('a.anon-private', 'ok kept'),
      { id: 'c.anon-private', family: 'zap', status: 'crash', reason: 'the guest died during the case' },
      observedCase('b.anon-private', 'ok kept'),
    ],
  });
  const all = ['a.anon-private', 'b.anon-private', 'c.anon-private', 'd.anon-private'];
  const host = new FakeHost(() => ({ cases: all }));
  const r = fakeRun(['debian:bookworm'], ['zap'], {}, resultsOf([before], { complete: false, finished: null }));
  await runWith(r.options, host, r.recorder);
  t.deepEqual([...ids(r.results.kernels[0].cases)].sort(), all, 'd ran; a, b and c were not run again');
});

test('resume: finished families are skipped, a family cut short runs the cases it does not have', async (t) => {
  const before = kernelResult({
    spec: 'debian:bookworm',
    familiesDone: ['zap'],
    cases: [
      observedCase('zap_a.anon-private', 'ok kept'),
      observedCase('zap_b.anon-private', 'ok kept'),
      observedCase('populate_a.anon-private', 'ok kept', 'populate'),
    ],
  });
  const host = new FakeHost(twoCases);
  const r = fakeRun(['debian:bookworm'], ['zap', 'populate'], {}, resultsOf([before], { complete: false, finished: null }));
  await runWith(r.options, host, r.recorder);
  t.deepEqual(familyRequests(host), [{ kind: 'family', family: 'populate', exclude: ['populate_a.anon-private'], console: true }]);
  t.deepEqual(ids(r.results.kernels[0].cases), ['zap_a.anon-private', 'zap_b.anon-private', 'populate_a.anon-private', 'populate_b.anon-private']);
  t.true(r.results.complete);
});

test('resume: a kernel already done is not booted at all', async (t) => {
  const done = kernelResult({ spec: 'debian:bookworm', familiesDone: ['zap'], cases: [observedCase('zap_a.anon-private', 'ok kept')] });
  const host = new FakeHost(twoCases);
  const r = fakeRun(['debian:bookworm'], ['zap'], {}, resultsOf([done]));
  await runWith(r.options, host, r.recorder);
  t.is(host.guests.length, 0);
  t.deepEqual(host.prepared, []);
});

test('a kernel that does not boot is a boot error; the next kernel still runs', async (t) => {
  const host = new FakeHost(twoCases, (spec) => spec === 'debian:bullseye');
  const r = fakeRun(['debian:bullseye', 'debian:bookworm'], ['zap']);
  await runWith(r.options, host, r.recorder);
  const [a, b] = r.results.kernels;
  t.is(a.error?.phase, 'boot');
  t.is(a.cases.length, 0);
  t.is(b.error, null);
  t.is(b.cases.length, 2);
  t.false(r.results.complete);
  t.deepEqual(
    r.done.map((k) => k.spec),
    ['debian:bullseye', 'debian:bookworm'],
  );
});

test('a second guest that fails to boot leaves the first to run every family alone, with no error', async (t) => {
  const host = new FakeHost(twoCases, (_spec, n) => n === 2);
  const r = fakeRun(['debian:bookworm'], FAMILIES, { jobs: 2 });
  await runWith(r.options, host, r.recorder);
  const k = r.results.kernels[0];
  t.is(k.error, null);
  t.is(host.guests.length, 1);
  t.is(k.cases.length, 10);
  t.true(r.lines.some((l) => /another guest failed \(boot: /.test(l)));
});

test('a pool that does not come back after a family is recorded as drift', async (t) => {
  const script: Script = (family, _after, guest) => {
    guest.leak({ '2048kB': { free: 62, rsvd: 0 } });
    return { cases: [`${family}_a.anon-private`] };
  };
  const host = new FakeHost(script);
  const r = fakeRun(['debian:bookworm'], ['zap']);
  await runWith(r.options, host, r.recorder);
  t.deepEqual(r.results.kernels[0].poolDrift, [{ after: 'zap', drift: ['2048kB free 62/64'] }]);
});

test('the kselftest family: rows per point, a FAIL exits 1, a test that takes the guest down is its crash row and the next runs in a fresh guest', async (t) => {
  const host = new FakeHost(twoCases, undefined, {
    madv_populate: { out: 'TAP version 13\n1..2\nok 1 MADV_POPULATE_READ\nnot ok 2 MADV_POPULATE_WRITE\n', code: 1 },
    'hugetlb-madvise': 'dies',
    mremap_dontunmap: { out: 'nothing in TAP\n', code: 0 },
  });
  const r = fakeRun(['debian:trixie'], ['zap', 'kselftest'], { tests: ['madv_populate', 'hugetlb-madvise', 'mremap_dontunmap'] });
  await runWith(r.options, host, r.recorder);
  const k = r.results.kernels[0];
  const rows = Object.fromEntries(k.cases.filter((c) => c.family === 'kselftest').map((c) => [c.id, c.selftest?.result ?? c.status]));
  t.deepEqual(rows, {
    'kselftest.mm.madv_populate.MADV_POPULATE_READ': 'PASS',
    'kselftest.mm.madv_populate.MADV_POPULATE_WRITE': 'FAIL',
    'kselftest.mm.madv_populate': 'FAIL',
    'kselftest.mm.hugetlb-madvise': 'crash',
    'kselftest.mm.mremap_dontunmap': 'PASS',
  });
  t.is(host.guests.length, 2, 'a fresh guest after the crash');
  t.true(
    host.guests[1].commands.some((c) => c.includes('./mremap_dontunmap')),
    'the next test ran in it',
  );
  t.true(
    host.guests.every((g) => g.commands.some((c) => c.startsWith('mkdir -p /tmp/kselftest && tar -x'))),
    'the binaries were pushed into each guest',
  );
  t.true(k.familiesDone?.includes('kselftest'));
  const { runExit } = await import('../../reports/outcome.js');
  t.is(runExit(r.results.kernels, r.results.complete), 1, 'a selftest FAIL is the kernel doing wrong, or the test: exit 1');
});

test('with a second tree (--from-tree) the kernel runs both sets, the other tree in rows of its own, in the same guest', async (t) => {
  const host = new FakeHost(twoCases, undefined, { madv_populate: { out: '1..1\nok 1 MADV_POPULATE_READ\n', code: 0 } });
  host.fromTree = true;
  const r = fakeRun(['debian:trixie'], ['kselftest'], { tests: ['madv_populate'] });
  await runWith(r.options, host, r.recorder);
  t.deepEqual(ids(r.results.kernels[0].cases), [
    'kselftest.mm.madv_populate.MADV_POPULATE_READ',
    'kselftest.mm.madv_populate',
    'kselftest.mm@7.3.madv_populate.MADV_POPULATE_READ',
    'kselftest.mm@7.3.madv_populate',
  ]);
  t.is(host.guests.length, 1);
});

test("a kernel's guests take its families largest first; the cases stay in report order", async (t) => {
  const host = new FakeHost(twoCases);
  const size: Record<string, number> = { zap: 560, populate: 300, mremap: 147, advice: 336, resv: 136 };
  const r = fakeRun(['debian:bookworm'], FAMILIES, { jobs: 1, familySize: (f) => size[f] });
  await runWith(r.options, host, r.recorder);
  t.deepEqual(
    familyRequests(host).map((q) => q.family),
    ['zap', 'advice', 'populate', 'mremap', 'resv'],
  );
  t.deepEqual(
    ids(r.results.kernels[0].cases),
    FAMILIES.flatMap((f) => [`${f}_a.anon-private`, `${f}_b.anon-private`]),
  );
});

test('takingOrder: largest first, ties in the order given', (t) => {
  const size: Partial<Record<Family, number>> = { zap: 2, populate: 5, resv: 2, kselftest: Number.POSITIVE_INFINITY };
  t.deepEqual(
    takingOrder(['zap', 'populate', 'resv', 'kselftest'], (f) => size[f] ?? 0),
    ['kselftest', 'populate', 'zap', 'resv'],
  );
  t.deepEqual(
    takingOrder(['zap', 'populate'], () => 0),
    ['zap', 'populate'],
  );
});
