// Broken guests: a case that panics the guest and one that hangs (every earlier case kept,
// the culprit marked with its console excerpt, the later cases run on a fresh guest; test-only
// suite families in suites/breakers.ts, enabled with MMATRIX_TEST_FAMILIES=1), a guest that
// never boots in time, and SSH that cannot authenticate.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import ssh2 from 'ssh2';
import { fromRoot } from '../../common/paths.js';
import { buildImage } from '../../images/initramfs.js';
import { prepareKernel } from '../../images/kernel.js';
import { clientKey, keyBlob } from '../../images/keys.js';
import type { Results } from '../../reports/results.js';
import { Guest } from '../../runner/guest.js';
import { Ssh } from '../../runner/ssh.js';

test.serial('a panic and a hang: culprits marked, earlier kept, later run on a fresh guest', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-crash-'));
  const r = spawnSync(
    process.execPath,
    [fromRoot('dist/runner/cli.js'), 'run', '-j', '1', '-k', 'debian:bookworm', '-s', 'panic', '-s', 'hang', '--case-timeout', '45', '--runs-dir', runs],
    { cwd: fromRoot('.'), encoding: 'utf8', timeout: 10 * 60_000, env: { ...process.env, MMATRIX_TEST_FAMILIES: '1' } },
  );
  t.log(r.stdout);
  t.is(r.status, 1, 'a crash is a failure of the kernel under test');
  const res = JSON.parse(readFileSync(join(runs, 'latest', 'results.json'), 'utf8')) as Results;
  const k = res.kernels[0];
  t.is(k.error, null);
  const byId = (family: string, id: string) => k.cases.find((c) => c.family === family && c.id === id)!;
  for (const family of ['panic', 'hang']) {
    t.is(byId(family, 'probe_before.anon-private').status, 'observed', `${family}: the case before is kept`);
    t.is(byId(family, 'probe_after.anon-private').status, 'observed', `${family}: the case after ran on a fresh guest`);
  }
  const crash = byId('panic', 'sysrq_crash.anon-private');
  t.is(crash.status, 'crash');
  t.regex(crash.console ?? '', /sysrq: Trigger a crash|Kernel panic/);
  const hang = byId('hang', 'hang.anon-private');
  t.is(hang.status, 'timeout');
  t.regex(hang.reason ?? '', /^hung test: no result after 45 s without output; the kernel still answers SSH/);
  // Every case reached cases.jsonl as it finished.
  const lines = readFileSync(join(runs, 'latest', 'cases.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { id: string });
  t.deepEqual(lines.map((l) => l.id).sort(), k.cases.map((c) => c.id).sort());
  t.is(lines.length, 7);
  // A WARNING and a taint during a case mark that case (here written by the test family itself).
  const warned = byId('panic', 'warn.anon-private').observation!;
  t.deepEqual(warned.kernel, { taint: 512, log: ['WARNING: mmatrix test warning'] });
  const md = readFileSync(join(runs, 'latest', 'matrix.md'), 'utf8');
  t.regex(md, /## Crashes and timeouts/);
  t.regex(md, /sysrq_crash\.anon-private: CRASH: the guest died during the case/);
  t.regex(md, /## Kernel warnings and taint\n\n- 6\.1\.0-50-amd64 warn\.anon-private: taint 512\n {2}- `WARNING: mmatrix test warning`/);
  // One guest at a time (-j 1): three booted (first, after the panic, after the hang); each left its console.
  t.deepEqual(
    readdirSync(join(runs, 'latest', k.id))
      .filter((f) => f.startsWith('console'))
      .sort(),
    ['console.2.log', 'console.3.log', 'console.log'],
  );
});

test.serial('a guest that never boots in time: exit 2, the boot phase named, the console tail shown, no QEMU left', (t) => {
  const runs = mkdtempSync(join(tmpdir(), 'mmatrix-boot-'));
  const r = spawnSync(
    process.execPath,
    [fromRoot('dist/runner/cli.js'), 'run', '-k', 'debian:bookworm', '-s', 'advice', '--boot-timeout', '20', '--runs-dir', runs],
    {
      cwd: fromRoot('.'),
      encoding: 'utf8',
      timeout: 5 * 60_000,
      // QEMU held stopped (-S): the guest cannot answer however fast this machine boots it.
      env: { ...process.env, MMATRIX_TEST_FAULT: 'boot-stopped' },
    },
  );
  t.is(r.status, 2, r.stdout);
  t.regex(r.stdout, /debian:bookworm: boot failed: guest did not answer SSH before the boot timeout/);
  t.regex(r.stdout, /\n {2}\| console(, last lines:|: empty so far)/, 'what the console showed');
  const res = JSON.parse(readFileSync(join(runs, 'latest', 'results.json'), 'utf8')) as Results;
  t.is(res.kernels[0].error?.phase, 'boot');
  t.false(res.complete);
  t.false(
    readdirSync('/proc').some(
      (p) =>
        /^\d+$/.test(p) &&
        (() => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('qemu-system') && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(runs);
          } catch {
            return false;
          }
        })(),
    ),
  );
});

test.serial('SSH with a key the guest does not know fails as authentication, and a wrong host key is refused', async (t) => {
  const kernel = await prepareKernel('debian:bookworm');
  const image = await buildImage(kernel);
  const dir = mkdtempSync(join(tmpdir(), 'mmatrix-ssh-'));
  const g = await Guest.boot(kernel, image, { accel: 'tcg', memoryMb: 1536, hugepages: 0, bootTimeoutMs: 120_000, consoleLog: join(dir, 'console.log') });
  try {
    const stranger = ssh2.utils.generateKeyPairSync('ed25519').private;
    await t.throwsAsync(Ssh.connect(g.config.sshPort, stranger, keyBlob(image.hostKey)), { message: 'SSH to the guest: authentication failed' });
    const otherHost = keyBlob(`ssh-ed25519 ${Buffer.alloc(51, 7).toString('base64')}`);
    await t.throwsAsync(Ssh.connect(g.config.sshPort, clientKey().privateKey, otherHost), { message: /^SSH to the guest: / });
  } finally {
    await g.close();
  }
});
