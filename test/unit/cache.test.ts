import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { buildOnce, withLock } from '../../common/cache.js';

const execFileAsync = promisify(execFile);

test('buildOnce: callers asking at once share one build; later ones find it made', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'mmatrix-cache-')), 'entry');
  let makes = 0;
  const make = async (tmp: string) => {
    makes += 1;
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(tmp, 'made'), 'x');
  };
  const [a, b] = await Promise.all([buildOnce(dir, make), buildOnce(dir, make)]);
  t.deepEqual([a, b, makes], [true, false, 1]);
  t.true(existsSync(join(dir, 'made')));
  t.false(await buildOnce(dir, make));
  t.is(makes, 1);
});

test('buildOnce across processes: runs sharing a cache make an entry once, the others wait and say so', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'mmatrix-cache-'));
  const dir = join(root, 'entry');
  const mod = new URL('../../common/cache.js', import.meta.url).href;
  // Each process records that it built, taking long enough for the others to find the lock held.
  const script = `const { buildOnce } = await import(${JSON.stringify(mod)});
    const { appendFileSync, writeFileSync } = await import('node:fs');
    const built = await buildOnce(${JSON.stringify(dir)}, async (tmp) => {
      appendFileSync(${JSON.stringify(join(root, 'makes'))}, process.pid + '\\n');
      await new Promise((r) => setTimeout(r, 1500));
      writeFileSync(tmp + '/made', 'x');
    });
    process.stdout.write(String(built));`;
  const runs = await Promise.all(Array.from({ length: 3 }, () => execFileAsync(process.execPath, ['--input-type=module', '-e', script])));
  t.deepEqual(runs.map((r) => r.stdout).sort(), ['false', 'false', 'true']);
  t.is(readFileSync(join(root, 'makes'), 'utf8').trim().split('\n').length, 1);
  t.true(existsSync(join(dir, 'made')));
  t.true(runs.some((r) => /waiting for another mmatrix to finish/.test(r.stderr)));
  t.false(existsSync(`${dir}.lock`), 'the lock is released');
});

test('withLock takes over a lock whose holder died', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'mmatrix-lock-')), 'entry');
  mkdirSync(`${path}.lock`); // a holder that died without releasing it...
  const old = new Date(Date.now() - 120_000);
  utimesSync(`${path}.lock`, old, old); // ...long ago
  t.is(await withLock(path, async () => 'ran'), 'ran');
});

test('runs sharing a new cache agree on one client key', async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'mmatrix-keys-'));
  const mod = new URL('../../images/keys.js', import.meta.url).href;
  const script = `const { clientKey } = await import(${JSON.stringify(mod)}); process.stdout.write(clientKey().publicLine);`;
  const runs = await Promise.all(
    Array.from({ length: 4 }, () => execFileAsync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, MMATRIX_CACHE: cache } })),
  );
  t.is(new Set(runs.map((r) => r.stdout)).size, 1);
  t.regex(runs[0].stdout, /^ssh-rsa \S+ mmatrix$/);
});
