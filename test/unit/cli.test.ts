// The CLI on bad input: one line naming the problem, exit 2, nothing started.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fromRoot } from '../../common/paths.js';

const cli = (...args: string[]) => spawnSync(process.execPath, [fromRoot('dist/runner/cli.js'), ...args], { encoding: 'utf8' });

test('an unknown flag is an error with a suggestion', (t) => {
  const r = cli('run', '--kernl', 'debian:bookworm');
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown option '--kernl'/);
  t.regex(r.stderr, /Did you mean --kernel\?/);
});

test('an unknown Debian suite is named with the known ones', (t) => {
  const r = cli('run', '-k', 'debian:buster');
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown kernel 'debian:buster'/);
  t.regex(r.stderr, /use debian:<suite> \(bullseye, bookworm/);
});

test('a misspelt Debian suite gets a suggestion', (t) => {
  const r = cli('run', '-k', 'debian:bookwrom');
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown kernel 'debian:bookwrom' \(did you mean debian:bookworm\?\)/);
});

test('every subcommand has help', (t) => {
  for (const c of ['run', 'diff', 'merge', 'report', 'show', 'kernels', 'images', 'bench']) {
    const r = cli(c, '--help');
    t.is(r.status, 0, c);
    t.regex(r.stdout, new RegExp(`Usage: mmatrix ${c}`), c);
  }
});

test('report refuses results of another schema version, naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-report-'));
  writeFileSync(join(dir, 'results.json'), JSON.stringify({ schema: 'mmatrix.results/9', kernels: [] }));
  const r = cli('report', dir);
  t.is(r.status, 2);
  t.regex(r.stderr, /has schema 'mmatrix\.results\/9'; this mmatrix reads mmatrix\.results\/1/);
});

test('a kernel source of unknown kind', (t) => {
  const r = cli('run', '-k', 'foo');
  t.is(r.status, 2);
  t.regex(r.stderr, /use debian:<suite>, bzimage:<path>\[,modules=<dir>\] or src:<tree>\[,patches=<mbox\|dir>\]/);
});

test('an unknown suite family', (t) => {
  const r = cli('run', '-s', 'zapp');
  t.is(r.status, 2);
  t.regex(r.stderr, /unknown suite 'zapp' \(known: zap, populate, mremap, advice, resv, vma, uffd, kselftest\)/);
});

test('help lists run with examples', (t) => {
  const r = cli('run', '--help');
  t.is(r.status, 0);
  t.regex(r.stdout, /mmatrix run -k debian:bookworm/);
});

test('a bzimage that does not exist, or is not a kernel', (t) => {
  const missing = cli('run', '-k', 'bzimage:/nonexistent/bzImage');
  t.is(missing.status, 2);
  t.is(missing.stderr.trim(), 'mmatrix: kernel file /nonexistent/bzImage does not exist');
  const notKernel = cli('run', '-k', `bzimage:${fromRoot('package.json')}`);
  t.is(notKernel.status, 2);
  t.regex(notKernel.stderr, /is not a bzImage \(no HdrS setup header\)/);
});

test('an invalid expectation table stops the run before it starts', (t) => {
  const r = cli('run', '--expectations', fromRoot('package.json'), '-k', 'debian:bookworm');
  t.is(r.status, 2);
  t.regex(r.stderr, /^mmatrix: invalid expectation table .*package\.json: schema must be/);
});

test('no QEMU on PATH is named before anything starts', (t) => {
  const r = spawnSync(process.execPath, [fromRoot('dist/runner/cli.js'), 'run', '-k', 'debian:bookworm'], {
    encoding: 'utf8',
    env: { ...process.env, PATH: '/nonexistent' },
  });
  t.is(r.status, 2);
  t.regex(r.stderr, /no QEMU: qemu-system-x86_64 is not on PATH/);
});

test('a case pattern that matches no case is refused with the nearest ids', (t) => {
  const r = cli('run', '-k', 'debian:bookworm', '-c', 'madv_dontned.hugetlbfs-private');
  t.is(r.status, 2);
  t.regex(r.stderr, /no case matches 'madv_dontned\.hugetlbfs-private' \(did you mean madv_dontneed\.hugetlbfs-private/);
});

test('an unknown command is named, even with --help, and exits 2', (t) => {
  const r = cli('bissect', '--help');
  t.is(r.status, 2);
  t.is(r.stderr.trim().split('\n').length, 1);
  t.regex(r.stderr, /^mmatrix: unknown command 'bissect' \(commands: run, /);
  t.is(cli('--help').status, 0);
});

test('bisect: bad input gets one line and exit 2 before anything is built', (t) => {
  const tree = mkdtempSync(join(tmpdir(), 'mm-bisect-'));
  mkdirSync(join(tree, 'arch/x86'), { recursive: true });
  writeFileSync(join(tree, 'Makefile'), '');
  writeFileSync(join(tree, 'arch/x86/Kconfig'), '');
  const run = (...a: string[]) => cli('bisect', tree, '--good', 'v1', '--bad', 'v2', ...a);
  for (const [args, message] of [
    [['-c', 'madv_free.anon-thp-private'], /is not a git tree/],
    [['-c', 'madv_fre.anon-thp-private'], /no case matches 'madv_fre\.anon-thp-private'/],
    [['-c', 'madv_free.anon-thp-private', '--patches', join(tree, 'none.patch')], /patches \S+none\.patch do not exist/],
  ] as const) {
    const r = run(...args);
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, message);
    t.is(r.stderr.trim().split('\n').length, 1);
  }
  t.regex(cli('bisect', tree).stderr, /required option '--good <rev>' not specified/);
});

test('a results.json that is JSON but not a results set is bad input for report, show, diff and merge', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mm-bad-'));
  const file = join(dir, 'results.json');
  writeFileSync(file, JSON.stringify({ schema: 'mmatrix.results/1', runId: 'r', started: 's', finished: null, complete: true, kernels: [{}] }));
  for (const args of [
    ['report', dir],
    ['show', 'x', '-r', file],
    ['diff', file, file],
    ['merge', file, '-o', join(dir, 'm')],
  ]) {
    const r = cli(...args);
    t.is(r.status, 2, args.join(' '));
    t.regex(r.stderr, /^mmatrix: '.*results\.json' is not a valid mmatrix\.results\/1: \/kernels\/0 /, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, 'one line, no stack');
  }
});

test('a reader that went away ends the command, with no error log', async (t) => {
  // The reader closes both pipes before mmatrix writes its one line: the write fails with
  // EPIPE. That once looped through the error handler, a log file per turn, forever.
  const tmp = mkdtempSync(join(tmpdir(), 'mm-epipe-'));
  const p = spawn(process.execPath, [fromRoot('dist/runner/cli.js'), 'run', '-k', 'debian:buster'], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => p.kill('SIGKILL')); // a regression must not outlive the test
  p.stdout.destroy();
  p.stderr.destroy();
  const code = await new Promise<number | null>((done) => p.on('exit', done));
  t.is(code, 2);
  t.deepEqual(
    readdirSync(tmp).filter((f) => f.startsWith('mmatrix-error-')),
    [],
  );
});
