// guest/protocol.ts is the one place that knows a wire format: each message encodes and is
// accepted by its own guard, a wrong shape is refused, and the markers /init prints are the
// ones the host waits for.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';
import {
  announcedCase,
  decodeAnswer,
  decodePoint,
  doneCode,
  EXT4_DONE,
  encodeAnnouncement,
  encodeAnswer,
  encodeConsoleAnnouncement,
  encodeDone,
  encodePoint,
  encodeRequest,
  type GuestFacts,
  isCaseError,
  isFacts,
  isPools,
  isRequest,
  lastConsoleAnnouncement,
  pointCase,
  poolKey,
  type Request,
  SNAPSHOT_FLAG,
  SNAPSHOT_GO,
  SNAPSHOT_POINT,
  SSHD_STARTED,
} from '../../guest/protocol.js';
import { Tap } from '../../guest/tap.js';

const facts: GuestFacts = { release: '6.1.0-50-amd64', hugePageKb: 2048, hugepagesObtained: 64, gigantic: 0, thp: 'madvise', cmdline: 'quiet', pageSize: 4096 };

test('every request round-trips through its encoder and guard; other shapes are refused', (t) => {
  const requests: Request[] = [
    { kind: 'family', family: 'zap' },
    { kind: 'family', family: 'panic', patterns: ['*.anon-*'], after: 'x.anon-private', test: true },
    { kind: 'pools' },
    { kind: 'facts' },
  ];
  for (const r of requests) t.deepEqual(JSON.parse(encodeRequest(r)), r);
  for (const r of requests) t.true(isRequest(JSON.parse(encodeRequest(r))));
  for (const bad of [
    null,
    'zap',
    {},
    { family: 'zap' },
    { pools: true },
    { kind: 'family' },
    { kind: 'family', family: 'zap', patterns: 'x' },
    { kind: 'family', family: 'zap', after: null },
  ])
    t.false(isRequest(bad), JSON.stringify(bad));
});

test('pools and facts answer as one JSON line, checked by their guards', (t) => {
  const pools = { [poolKey(2 << 20)]: { free: 64, rsvd: 0 }, [poolKey(1 << 30)]: { free: 2, rsvd: 1 } };
  t.deepEqual(Object.keys(pools), ['2048kB', '1048576kB']);
  t.is(encodeAnswer(pools).split('\n').length, 2);
  t.deepEqual(decodeAnswer(encodeAnswer(pools), isPools), pools);
  t.deepEqual(decodeAnswer(encodeAnswer(facts), isFacts), facts);
  t.is(decodeAnswer(encodeAnswer(facts), isPools), null, 'facts are no pools');
  t.is(decodeAnswer(encodeAnswer(pools), isFacts), null, 'pools are no facts');
  t.is(decodeAnswer('2048kB 64 0\n', isPools), null, 'the old text listing is refused');
  t.is(decodeAnswer('{"2048kB":{"free":1.5,"rsvd":0}}', isPools), null);
  t.is(decodeAnswer('{"huge":{"free":1,"rsvd":0}}', isPools), null);
  t.is(decodeAnswer(JSON.stringify({ ...facts, pageSize: '4096' }), isFacts), null);
});

test('framing: done lines, case announcements and points are read back by their own decoders', (t) => {
  t.is(doneCode(encodeDone(3).trimEnd()), 3);
  t.is(doneCode('# mmatrix: done x'), null);
  const tap = new Tap((s) => (out += s));
  let out = '';
  tap.comment(encodeAnnouncement('madv_free.memfd-shared'));
  tap.point(false, 'madv_free.memfd-shared', { error: 'boom', stack: '' });
  tap.flush();
  const lines = out.split('\n');
  t.is(announcedCase(lines[0]), 'madv_free.memfd-shared');
  t.is(pointCase(lines[1]), 'madv_free.memfd-shared');
  t.is(announcedCase(lines[1]), null);
  t.true(isCaseError({ error: 'boom', stack: '' }));
  t.false(isCaseError({ message: 'boom' }));
});

test('/init prints the markers the host waits for, where it waits for them', (t) => {
  const init = readFileSync(fromRoot('images/init.sh'), 'utf8');
  // say() prefixes "mmatrix: " to what it prints.
  t.true(init.includes(`say "${SSHD_STARTED.replace(/^mmatrix: /, '')}"`), 'sshd marker');
  t.regex(init, /^say\(\) \{[^\n]*echo "mmatrix: \$\*/m);
  t.true(init.includes(`touch ${EXT4_DONE}`), 'scratch disk marker');
  t.true(init.includes(`say "${SNAPSHOT_POINT.replace(/^mmatrix: /, '')}"`), 'snapshot marker');
  t.true(init.includes(`mkfifo ${SNAPSHOT_GO}`) && init.includes(`read -r now < ${SNAPSHOT_GO}`), 'the FIFO the runner writes');
  const [flag, value] = SNAPSHOT_FLAG.split('=');
  t.true(init.includes(`${flag}=*) snapshot="\${arg#*=}"`) && init.includes(`[ "$snapshot" = ${value} ]`), 'the command-line flag');
  // The snapshot is taken before the scratch disk is first written: restored guests attach a fresh overlay.
  t.true(init.indexOf('say "snapshot point"') < init.indexOf('late &'));
});

test('a point carries its duration beside the record, and the host takes it apart again', (t) => {
  const body = { error: 'boom', stack: '' };
  const diag = encodePoint(body, 12.34567);
  t.deepEqual(diag, { error: 'boom', stack: '', duration_ms: 12.346 });
  t.deepEqual(decodePoint(diag), { body, durationMs: 12.346 });
  t.deepEqual(decodePoint(body), { body, durationMs: null }, 'a point without one');
  t.deepEqual(decodePoint({ ...body, duration_ms: 'x' }), { body, durationMs: null });
});

test('the console announcement: written at KERN_ERR, and only a whole line names a case', (t) => {
  t.is(encodeConsoleAnnouncement('madv_free.memfd-shared'), '<3>mmatrix: case madv_free.memfd-shared\n');
  const console =
    '[    1.0] mmatrix: case a.anon-private\r\n[    1.1] sysrq: Trigger a crash\r\n[    1.2] mmatrix: case b.anon-private\r\n[    1.3] mmatrix: case c.an';
  t.is(lastConsoleAnnouncement(console), 'b.anon-private', 'the cut-off last line is no announcement');
  t.is(lastConsoleAnnouncement('[    1.0] mmatrix: sshd started @1.6\r\n'), null);
  t.true(isRequest({ kind: 'family', family: 'zap', after: 'a.anon-private', exclude: ['b.anon-private'] }));
  t.false(isRequest({ kind: 'family', family: 'zap', exclude: 'b.anon-private' }));
  t.true(isRequest({ kind: 'family', family: 'zap', console: true }));
  t.false(isRequest({ kind: 'family', family: 'zap', console: 'yes' }));
});
