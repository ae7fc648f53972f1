// runner/ssh.ts against an SSH server in this process: pinned host key, commands, the guest's
// request server and how a request ends (answered, silent past its idle limit, connection lost).
import test from 'ava';
import { InfraError } from '../../common/errors.js';
import { encodeAnswer, encodeRequest } from '../../guest/protocol.js';
import { Ssh } from '../../runner/ssh.js';
import { startSshd } from '../fakes/sshd.js';

const pools = { '2048kB': { free: 64, rsvd: 0 } };

test('a command runs with its output and exit code; the request server answers each request up to its done line', async (t) => {
  const sshd = await startSshd(
    (line) => (JSON.parse(line).kind === 'pools' ? { out: encodeAnswer(pools), code: 0 } : { out: 'TAP version 14\n1..0\n', code: 1 }),
    (cmd) => ({ out: `ran ${cmd}\n`, code: 3 }),
  );
  const ssh = await Ssh.connect(sshd.port, sshd.clientKey, sshd.hostKey);
  const r = await ssh.exec('uname -r');
  t.like(r, { stdout: 'ran uname -r\n', code: 3, ended: 'exit' });
  const server = await ssh.serve('cd /opt/mm && exec node suites/main.js');
  t.like(await server.ask(encodeRequest({ kind: 'pools' })), { stdout: encodeAnswer(pools), code: 0, ended: 'exit' });
  const seen: string[] = [];
  t.like(await server.ask(encodeRequest({ kind: 'family', family: 'zap' }), { onData: (c) => seen.push(c) }), {
    stdout: 'TAP version 14\n1..0\n',
    code: 1,
    ended: 'exit',
  });
  t.deepEqual(seen, ['TAP version 14\n', '1..0\n'], 'lines handed on as they come, the done line held back');
  t.true(server.alive);
  await server.close();
  ssh.end();
  await sshd.close();
});

test('a request that prints nothing for its idle limit ends idle, and the server answers no more', async (t) => {
  const sshd = await startSshd(() => 'silent');
  const ssh = await Ssh.connect(sshd.port, sshd.clientKey, sshd.hostKey);
  const server = await ssh.serve('exec node suites/main.js');
  const r = await server.ask(encodeRequest({ kind: 'facts' }), { idleMs: 50, timeoutMs: 10_000 });
  t.is(r.ended, 'idle');
  t.false(server.alive);
  t.is((await server.ask(encodeRequest({ kind: 'facts' }))).ended, 'lost', 'a dead server answers at once');
  ssh.end();
  await sshd.close();
});

test('a connection that goes away mid-request ends it lost; a later command says the guest went away', async (t) => {
  const sshd = await startSshd(() => 'drop');
  const ssh = await Ssh.connect(sshd.port, sshd.clientKey, sshd.hostKey);
  const server = await ssh.serve('exec node suites/main.js');
  const r = await server.ask(encodeRequest({ kind: 'family', family: 'zap' }), { timeoutMs: 10_000 });
  t.is(r.ended, 'lost');
  const e = await t.throwsAsync(ssh.exec('true'));
  t.true(e instanceof InfraError);
  t.regex(e.message, /the guest went away/);
  await sshd.close();
});

test('a host key other than the pinned one is refused', async (t) => {
  const sshd = await startSshd(() => 'silent');
  const other = await startSshd(() => 'silent');
  const e = await t.throwsAsync(Ssh.connect(sshd.port, sshd.clientKey, other.hostKey));
  t.true(e instanceof InfraError);
  t.regex(e.message, /^SSH to the guest: /);
  await sshd.close();
  await other.close();
});

test('a refused login followed by the server resetting the connection is one error, none thrown later', async (t) => {
  const sshd = await startSshd(() => 'silent');
  const other = await startSshd(() => 'silent');
  const e = await t.throwsAsync(Ssh.connect(sshd.port, other.clientKey, sshd.hostKey));
  t.is(e.message, 'SSH to the guest: authentication failed');
  sshd.resetAll(); // the reset that used to reach an 'error' without a listener
  await new Promise((r) => setTimeout(r, 50));
  await sshd.close();
  await other.close();
});
