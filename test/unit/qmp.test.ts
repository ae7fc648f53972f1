// The QMP client and the save and load sequences against a fake QEMU monitor on a unix socket.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadState, Qmp, saveState } from '../../runner/qmp.js';

type Cmd = { execute: string; arguments?: Record<string, unknown> };

/** A monitor that greets, answers each command with `reply` (an event first, as QEMU sends
 * them unasked), and records what it was sent. */
async function fakeMonitor(reply: (c: Cmd, n: number) => object | null): Promise<{ path: string; sent: Cmd[]; server: Server }> {
  const path = join(mkdtempSync(join(tmpdir(), 'mm-qmp-')), 'qmp');
  const sent: Cmd[] = [];
  const server = createServer((sock) => {
    sock.write('{"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": ["oob"]}}\r\n');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const c = JSON.parse(buf.slice(0, i)) as Cmd;
        buf = buf.slice(i + 1);
        sent.push(c);
        const r = reply(c, sent.filter((x) => x.execute === c.execute).length);
        sock.write('{"event": "RESUME", "data": {}}\r\n');
        if (r === null) sock.destroy();
        else sock.write(`${JSON.stringify(r)}\r\n`);
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, sent, server };
}

const soon = () => Date.now() + 5000;

test('QMP: the greeting, capabilities, a return per command, an error thrown with its text', async (t) => {
  const m = await fakeMonitor((c) => (c.execute === 'bad' ? { error: { class: 'GenericError', desc: 'no such thing' } } : { return: { got: c.execute } }));
  const q = await Qmp.connect(m.path, soon(), () => true);
  t.deepEqual(await q.cmd('query-status'), { got: 'query-status' });
  await t.throwsAsync(q.cmd('bad'), { message: 'QMP bad: no such thing' });
  t.deepEqual(
    m.sent.map((c) => c.execute),
    ['qmp_capabilities', 'query-status', 'bad'],
  );
  q.end();
  m.server.close();
});

test('QMP: a socket file that nobody listens on yet (QEMU between bind and listen) is tried again', async (t) => {
  const path = join(mkdtempSync(join(tmpdir(), 'mm-qmp-')), 'qmp');
  writeFileSync(path, ''); // connecting to it is refused, as to a socket not yet listened on
  const connecting = Qmp.connect(path, soon(), () => true);
  await new Promise((r) => setTimeout(r, 50));
  rmSync(path);
  const server = createServer((sock) => {
    sock.write('{"QMP": {"version": {}, "capabilities": []}}\r\n');
    sock.on('data', () => sock.write('{"return": {}}\r\n'));
  });
  await new Promise<void>((r) => server.listen(path, r));
  const q = await connecting;
  t.deepEqual(await q.cmd('query-status'), {});
  q.end();
  server.close();
});

test('QMP: a monitor that goes away fails the command waiting on it; a QEMU gone before its socket is a boot error', async (t) => {
  const m = await fakeMonitor((c) => (c.execute === 'quit' ? null : { return: {} }));
  const q = await Qmp.connect(m.path, soon(), () => true);
  await t.throwsAsync(q.cmd('quit'), { message: /QEMU closed its monitor/ });
  await t.throwsAsync(q.cmd('query-status'), { message: /QEMU closed its monitor/ });
  m.server.close();
  await t.throwsAsync(
    Qmp.connect(join(tmpdir(), 'mm-no-such-socket'), soon(), () => false),
    { message: /QEMU exited before its monitor opened/ },
  );
});

test('saving: RAM left out, the state to the file (quoted for the shell), polled until completed, then quit', async (t) => {
  const m = await fakeMonitor((c, n) => (c.execute === 'query-migrate' ? { return: { status: n < 3 ? 'active' : 'completed' } } : { return: {} }));
  const q = await Qmp.connect(m.path, soon(), () => true);
  await saveState(q, "/c/snap shots/it's/state", soon());
  t.deepEqual(
    m.sent.map((c) => c.execute),
    ['qmp_capabilities', 'migrate-set-capabilities', 'migrate', 'query-migrate', 'query-migrate', 'query-migrate', 'quit'],
  );
  t.deepEqual(m.sent[1].arguments, { capabilities: [{ capability: 'x-ignore-shared', state: true }] });
  t.deepEqual(m.sent[2].arguments, { uri: `exec:cat > '/c/snap shots/it'\\''s/state'` });
  q.end();
  m.server.close();
});

test("saving that fails says how, with QEMU's own words", async (t) => {
  const m = await fakeMonitor((c) => (c.execute === 'query-migrate' ? { return: { status: 'failed', 'error-desc': 'disk full' } } : { return: {} }));
  const q = await Qmp.connect(m.path, soon(), () => true);
  await t.throwsAsync(saveState(q, '/s', soon()), { message: 'QEMU did not save the guest: failed: disk full' });
  t.false(m.sent.some((c) => c.execute === 'quit'));
  q.end();
  m.server.close();
});

test('loading: the same capability, the state from the file, done once the guest runs (or is held paused)', async (t) => {
  for (const [end, ok] of [
    ['running', true],
    ['paused', true],
    ['internal-error', false],
  ] as const) {
    const m = await fakeMonitor((c, n) => (c.execute === 'query-status' ? { return: { status: n < 2 ? 'inmigrate' : end } } : { return: {} }));
    const q = await Qmp.connect(m.path, soon(), () => true);
    const loading = loadState(q, '/c/state', soon());
    if (ok) await t.notThrowsAsync(loading, end);
    else await t.throwsAsync(loading, { message: `the guest restored from its snapshot is ${end}` });
    t.deepEqual(
      m.sent.map((c) => c.execute),
      ['qmp_capabilities', 'migrate-set-capabilities', 'migrate-incoming', 'query-status', 'query-status'],
    );
    t.deepEqual(m.sent[2].arguments, { uri: `exec:cat '/c/state'` });
    q.end();
    m.server.close();
  }
});

test('a load that never ends meets the deadline', async (t) => {
  const m = await fakeMonitor((c) => (c.execute === 'query-status' ? { return: { status: 'inmigrate' } } : { return: {} }));
  const q = await Qmp.connect(m.path, soon(), () => true);
  await t.throwsAsync(loadState(q, '/c/state', Date.now() + 50), { message: 'the snapshot did not load before the boot timeout' });
  q.end();
  m.server.close();
});
