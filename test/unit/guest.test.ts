import { appendFileSync, closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { caseFilter } from '../../guest/pattern.js';
import { doneCode } from '../../guest/protocol.js';
import { serve } from '../../guest/serve.js';
import { bootFailureDetail, injectedBootFault, poolDrift, waitForConsole } from '../../runner/guest.js';
import { gigantic } from '../../runner/run.js';

test('pool drift names each pool that moved', (t) => {
  const base = { '2048kB': { free: 64, rsvd: 0 }, '1048576kB': { free: 2, rsvd: 0 } };
  t.deepEqual(poolDrift(base, base), []);
  t.deepEqual(poolDrift(base, { '2048kB': { free: 62, rsvd: 2 }, '1048576kB': { free: 2, rsvd: 0 } }), ['2048kB free 62/64', '2048kB rsvd 2/0']);
});

test('a 1 GiB pool adds its pages on top of 3 GiB and asks the kernel for them', (t) => {
  t.deepEqual(gigantic(0, 1536), { memoryMb: 1536, cmdline: '' });
  t.deepEqual(gigantic(2, 1536), { memoryMb: 5120, cmdline: 'hugepagesz=1G hugepages=2' });
  t.deepEqual(gigantic(1, 4096), { memoryMb: 5120, cmdline: 'hugepagesz=1G hugepages=1' });
});

test('case patterns filter case ids', (t) => {
  const keep = caseFilter(['madv_dontneed*.hugetlbfs-*', 'resv_{fork,fault}.*']);
  t.true(keep('madv_dontneed@mid.hugetlbfs-1g-shared'));
  t.true(keep('resv_fork.map-hugetlb-private'));
  t.false(keep('madv_dontneed.anon-private'));
  t.true(caseFilter([])('anything'));
});

test('the guest server answers each request line with its output and a done line, a bad request with Bail out!', (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'mm-serve-')), 'requests');
  writeFileSync(file, '{"kind":"family","family":"zap"}\n\n{"kind":"pools"}\nnot json\n{"pools":true}\n{"kind":"family","family":"resv"}');
  const fd = openSync(file, 'r');
  let out = '';
  serve(
    (r) => {
      out += `${JSON.stringify(r)}\n`;
      return r.kind === 'pools' ? 0 : 1;
    },
    fd,
    (s) => (out += s),
  );
  closeSync(fd);
  const lines = out.trimEnd().split('\n');
  t.deepEqual(lines.map(doneCode), [null, 1, null, 0, null, 2, null, 2, null, 1]);
  t.is(lines[0], '{"kind":"family","family":"zap"}');
  t.regex(lines[4], /^Bail out! /);
  t.regex(lines[6], /^Bail out! not a request: \{"pools":true\}/, 'the old request shape is refused, by name');
  t.is(lines[8], '{"kind":"family","family":"resv"}', 'the last request needs no newline');
});

test('waitForConsole resolves once the marker is written, even split across writes', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'mm-con-')), 'console.log');
  const waiting = waitForConsole(file, 'mmatrix: sshd started', Date.now() + 5000, () => true, 5);
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(file, 'boot noise\nmmatrix: sshd st');
  await new Promise((r) => setTimeout(r, 20));
  appendFileSync(file, 'arted @2.5\n');
  await t.notThrowsAsync(waiting);
});

test('waitForConsole fails as a boot error when QEMU is gone or the deadline passes', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'mm-con-')), 'console.log');
  await t.throwsAsync(
    waitForConsole(file, 'marker', Date.now() + 5000, () => false, 5),
    { message: /QEMU exited before the guest answered SSH/ },
  );
  await t.throwsAsync(
    waitForConsole(file, 'marker', Date.now() + 30, () => true, 5),
    { message: /did not answer SSH before the boot timeout/ },
  );
});

test('the injected boot fault holds QEMU stopped, and only when asked for', (t) => {
  t.deepEqual(injectedBootFault({ MMATRIX_TEST_FAULT: 'boot-stopped' }), ['-S']);
  t.deepEqual(injectedBootFault({}), []);
  t.deepEqual(injectedBootFault({ MMATRIX_TEST_FAULT: 'other' }), []);
});

test('a failed boot shows QEMU stderr and the console; an empty console says why, booted or restored', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-detail-'));
  const none = join(dir, 'none.log');
  t.is(bootFailureDetail('', none), 'console: empty so far (the kernel prints nothing before /init with quiet)');
  t.is(bootFailureDetail('qemu: oops\n', none, true), 'qemu: oops\nconsole: empty so far (a restored guest prints nothing until /init goes on)');
  writeFileSync(join(dir, 'c.log'), 'mmatrix: resumed @5.1\n');
  t.is(bootFailureDetail('', join(dir, 'c.log'), true), 'console, last lines:\nmmatrix: resumed @5.1');
});
