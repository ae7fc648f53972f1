// A QEMU Machine Protocol client: JSON lines over QEMU's unix socket, one command at a time.
// The protocol is a greeting, `qmp_capabilities`, then a `return` or an `error` per command,
// with events in between (docs/interop/qmp-spec in QEMU's tree). npm's one QMP client is a
// single release with an unpinned dependency; these few lines are all the runner needs.
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { InfraError } from '../common/errors.js';
import { IGNORE_SHARED, loadUri, saveUri } from './qemu.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection to the socket, or null when it was refused (nobody listens yet). */
function attempt(path: string): Promise<Socket | null> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => {
      s.destroy();
      resolve(null);
    });
  });
}

type Reply = { return?: unknown; error?: { class: string; desc: string } };

export class Qmp {
  private buf = '';
  private waiting: ((r: Reply) => void)[] = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.take(d));
    sock.on('error', () => {}); // 'close' follows and fails what waits
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.splice(0)) w({ error: { class: 'closed', desc: 'QEMU closed its monitor' } });
    });
  }

  /** Connects once QEMU listens on the socket (it may still be starting: the file exists a
   * moment before QEMU listens on it, and a connection then is refused), reads the greeting and
   * leaves capability negotiation. */
  static async connect(path: string, deadline: number, alive: () => boolean): Promise<Qmp> {
    let sock: Socket | null = null;
    while (!sock) {
      if (!alive()) throw new InfraError('boot', 'QEMU exited before its monitor opened');
      if (Date.now() > deadline) throw new InfraError('boot', 'QEMU did not open its monitor before the boot timeout');
      sock = existsSync(path) ? await attempt(path) : null;
      if (!sock) await sleep(5);
    }
    const q = new Qmp(sock);
    await new Promise<void>((resolve, reject) => {
      q.waiting.push((r) => (r.error ? reject(new InfraError('boot', `QMP: ${r.error.desc}`)) : resolve())); // the greeting
    });
    await q.cmd('qmp_capabilities');
    return q;
  }

  private take(d: string): void {
    this.buf += d;
    for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (!line) continue;
      const msg = JSON.parse(line) as Reply & { QMP?: unknown; event?: string };
      if ('QMP' in msg) this.waiting.shift()?.({ return: msg.QMP });
      else if ('return' in msg || 'error' in msg) this.waiting.shift()?.(msg);
    }
  }

  /** One command's `return`; its `error` thrown. */
  cmd<T = unknown>(execute: string, args?: object): Promise<T> {
    if (this.closed) return Promise.reject(new InfraError('boot', `QMP ${execute}: QEMU closed its monitor`));
    return new Promise<T>((resolve, reject) => {
      this.waiting.push((r) => (r.error ? reject(new InfraError('boot', `QMP ${execute}: ${r.error.desc}`)) : resolve(r.return as T)));
      this.sock.write(`${JSON.stringify({ execute, ...(args ? { arguments: args } : {}) })}\n`);
    });
  }

  /** Asks `query` every `everyMs` until `done` accepts its answer. */
  async until<T>(query: string, done: (r: T) => boolean, deadline: number, what: string, everyMs = 5): Promise<T> {
    for (;;) {
      const r = await this.cmd<T>(query);
      if (done(r)) return r;
      if (Date.now() > deadline) throw new InfraError('boot', `${what} before the boot timeout`);
      await sleep(everyMs);
    }
  }

  end(): void {
    this.closed = true;
    this.sock.end();
  }
}

/** Has QEMU write the running guest's device state to `file` (its RAM is in the RAM file) and
 * waits for the end of it; the guest is stopped then, and QEMU is told to quit. */
export async function saveState(qmp: Qmp, file: string, deadline: number): Promise<void> {
  await qmp.cmd('migrate-set-capabilities', IGNORE_SHARED);
  await qmp.cmd('migrate', { uri: saveUri(file) });
  const m = await qmp.until<{ status: string; 'error-desc'?: string }>(
    'query-migrate',
    (r) => !['setup', 'active', 'device', 'pre-switchover'].includes(r.status),
    deadline,
    'QEMU did not save the guest',
  );
  if (m.status !== 'completed') throw new InfraError('boot', `QEMU did not save the guest: ${m.status}${m['error-desc'] ? `: ${m['error-desc']}` : ''}`);
  await qmp.cmd('quit').catch(() => {}); // QEMU may close the monitor before it answers
}

/** Loads the state saved by saveState into a QEMU started with -incoming defer, and waits until
 * the guest runs again: a connection made before would sit in slirp. A guest QEMU was told to
 * hold (-S, the injected fault) stays paused, and the wait for SSH that follows meets the boot
 * timeout. */
export async function loadState(qmp: Qmp, file: string, deadline: number): Promise<void> {
  await qmp.cmd('migrate-set-capabilities', IGNORE_SHARED);
  await qmp.cmd('migrate-incoming', { uri: loadUri(file) });
  const { status } = await qmp.until<{ status: string }>('query-status', (s) => s.status !== 'inmigrate', deadline, 'the snapshot did not load');
  if (status !== 'running' && status !== 'paused') throw new InfraError('boot', `the guest restored from its snapshot is ${status}`);
}
