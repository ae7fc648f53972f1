// The one place that talks ssh2. Key auth, pinned host key, one channel opening at a time:
// dropbear 2022.83 drops the connection when a channel opens while the previous
// command's exit is still being handled. A server (guest/serve.ts) keeps its channel open
// between requests.
import { type Socket, connect as tcpConnect } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { Client, type ClientChannel } from 'ssh2';
import { InfraError } from '../common/errors.js';
import { doneCode } from '../guest/protocol.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** QEMU accepts on the forwarded port before the guest listens: wait for the banner. The
 * connection that got it is handed back with the banner still unread, for ssh2 to go on with:
 * a second connection would cost dropbear another fork under TCG. */
export async function waitForBanner(port: number, deadline: number, alive: () => boolean): Promise<Socket> {
  while (Date.now() < deadline) {
    if (!alive()) throw new InfraError('boot', 'QEMU exited before the guest answered SSH');
    const sock = await new Promise<Socket | null>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      const fail = () => {
        s.destroy();
        resolve(null);
      };
      // Before the guest network is up, slirp holds an accepted connection open: give up soon.
      s.setTimeout(250, fail);
      s.once('error', fail);
      s.once('close', fail);
      s.once('data', (d: Buffer) => {
        if (!d.toString('latin1').startsWith('SSH-2.0-')) return fail();
        s.setTimeout(0);
        s.removeListener('error', fail);
        s.removeListener('close', fail);
        s.pause();
        s.unshift(d);
        resolve(s);
      });
    });
    if (sock) return sock;
    await sleep(20);
  }
  throw new InfraError('boot', 'guest did not answer SSH before the boot timeout');
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** How it ended: the command exited, printed nothing for idleMs, ran past timeoutMs, or the connection went away. */
  ended: 'exit' | 'idle' | 'timeout' | 'lost';
}

export interface ExecOptions {
  stdin?: Buffer;
  timeoutMs?: number;
  idleMs?: number; // give up when stdout stays silent this long
  onData?: (chunk: string) => void;
}

export class Ssh {
  private queue: Promise<unknown> = Promise.resolve();
  private lost = false;
  private constructor(private readonly client: Client) {
    client.setMaxListeners(0);
    client.on('close', () => (this.lost = true));
    client.on('error', () => (this.lost = true)); // after connect: the guest is gone; exec sees it as 'lost'
  }

  /** Key auth with a pinned host key, over `sock` when given (waitForBanner's connection). */
  static connect(port: number, privateKey: string, hostKey: Buffer, timeoutMs = 10_000, sock?: Socket): Promise<Ssh> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      c.once('ready', () => resolve(new Ssh(c)));
      // on, not once: a refused login can be followed by the guest resetting the connection,
      // and a second 'error' with no listener would be thrown out of the event loop. The first
      // one decides; the client is ended with it.
      c.on('error', (e: Error & { level?: string }) => {
        const phase = e.level === 'client-authentication' ? 'authentication failed' : e.message;
        reject(new InfraError('ssh', `SSH to the guest: ${phase}`));
        c.end();
      });
      c.connect({
        ...(sock ? { sock } : { host: '127.0.0.1', port }),
        username: 'root',
        privateKey,
        // Straight to the key: the 'none' method ssh2 tries first costs a round trip.
        authHandler: ['publickey'],
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => key.equals(hostKey),
      });
    });
  }

  /** Run one command; the next starts only once this channel has closed. A timeout or a lost
   * connection is an error here. */
  async exec(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.enqueue(() => this.execNow(cmd, opts));
    if (r.ended === 'timeout' || r.ended === 'idle')
      throw new InfraError('run', `'${cmd}' did not finish within ${(opts.timeoutMs ?? 60_000) / 1000} s`, r.stdout);
    if (r.ended === 'lost') throw new InfraError('ssh', `the guest went away during '${cmd}'`, r.stdout);
    return r;
  }

  /** Start `cmd` as a server (guest/serve.ts): it stays running between requests. */
  serve(cmd: string): Promise<Server> {
    const open = () =>
      new Promise<Server>((resolve, reject) => {
        if (this.lost) return reject(new InfraError('ssh', 'the guest went away'));
        this.client.exec(cmd, (err, ch) => (err ? reject(new InfraError('ssh', `exec '${cmd}': ${err.message}`)) : resolve(new Server(ch, this))));
      });
    return this.enqueue(open);
  }

  /** Runs `f` once everything queued before it is done: one channel opens at a time, and a
   * server's requests take their turn with the commands. */
  enqueue<T>(f: () => Promise<T>): Promise<T> {
    const p = this.queue.then(f, f);
    this.queue = p.catch(() => undefined);
    return p;
  }

  onLost(f: () => void): () => void {
    this.client.once('close', f);
    return () => this.client.removeListener('close', f);
  }

  private execNow(cmd: string, { stdin, timeoutMs = 60_000, idleMs, onData }: ExecOptions): Promise<ExecResult> {
    if (this.lost) return Promise.resolve({ code: null, signal: null, stdout: '', stderr: '', ended: 'lost' });
    return new Promise((resolve, reject) => {
      this.client.exec(cmd, (err, ch) => {
        if (err) return reject(new InfraError('ssh', `exec '${cmd}': ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | null = null;
        let ended: ExecResult['ended'] = 'exit';
        const finish = () => {
          watch.clear();
          resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString(), ended });
        };
        const watch = watchdog(this, { timeoutMs, idleMs }, (why) => {
          ended = why;
          ch.close();
          finish();
        });
        ch.on('data', (d: Buffer) => {
          out.push(d);
          watch.heard();
          onData?.(d.toString());
        });
        ch.stderr.on('data', (d: Buffer) => errOut.push(d));
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? null;
        });
        ch.on('close', () => {
          if (ended === 'exit' && code === null && signal === null) ended = 'lost'; // closed without an exit status
          finish();
        });
        if (stdin) ch.end(stdin);
        else ch.end();
      });
    });
  }

  end(): void {
    this.client.end();
  }
}

type Stop = (why: 'idle' | 'timeout' | 'lost') => void;

/** The limits of one command or request: `stop` is called once, when it runs past timeoutMs,
 * prints nothing for idleMs, or the connection goes away; heard() restarts the idle clock. */
function watchdog(ssh: Ssh, { timeoutMs = 60_000, idleMs }: { timeoutMs?: number; idleMs?: number }, stop: Stop) {
  let idle: NodeJS.Timeout | undefined;
  const once: Stop = (why) => {
    clear();
    stop(why);
  };
  const timer = setTimeout(() => once('timeout'), timeoutMs);
  const forget = ssh.onLost(() => once('lost'));
  const heard = () => {
    if (!idleMs) return;
    clearTimeout(idle);
    idle = setTimeout(() => once('idle'), idleMs);
  };
  const clear = () => {
    clearTimeout(timer);
    clearTimeout(idle);
    forget();
  };
  heard();
  return { heard, clear };
}

/** A command that answers requests (guest/serve.ts): a JSON line in, its output up to a done
 * line out. Once it ends, or a request runs past its limits (the channel is closed then), it
 * answers nothing more: `alive` turns false. */
export class Server {
  private held = '';
  private readonly decoder = new StringDecoder('utf8');
  private current: ((line: string | null) => void) | null = null; // the pending request's line sink
  private exit: { code: number | null; signal: string | null } = { code: null, signal: null };
  private stderr = '';
  alive = true;

  constructor(
    private readonly ch: ClientChannel,
    private readonly ssh: Ssh,
  ) {
    ch.on('data', (d: Buffer) => {
      this.held += this.decoder.write(d);
      for (let nl = this.held.indexOf('\n'); nl >= 0; nl = this.held.indexOf('\n')) {
        const line = this.held.slice(0, nl + 1);
        this.held = this.held.slice(nl + 1);
        this.current?.(line);
      }
    });
    ch.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    ch.on('exit', (code: number | null, signal?: string) => (this.exit = { code, signal: signal ?? null }));
    ch.on('close', () => {
      this.alive = false;
      this.current?.(null);
    });
  }

  /** One request; resolves however it ends, with what it printed (the done line left out). */
  ask(request: string, { timeoutMs, idleMs, onData }: ExecOptions = {}): Promise<ExecResult> {
    return this.ssh.enqueue(
      () =>
        new Promise<ExecResult>((resolve) => {
          const out: string[] = [];
          this.stderr = '';
          const finish = (ended: ExecResult['ended'], code: number | null, signal: string | null = null) => {
            watch.clear();
            this.current = null;
            resolve({ code, signal, stdout: out.join(''), stderr: this.stderr, ended });
          };
          const watch = watchdog(this.ssh, { timeoutMs, idleMs }, (why) => {
            this.alive = false;
            this.ch.close(); // as exec does: a hung request is not waited for
            finish(why, null);
          });
          this.current = (line) => {
            if (line === null) return finish(this.exit.code === null && this.exit.signal === null ? 'lost' : 'exit', this.exit.code, this.exit.signal);
            const done = doneCode(line.trimEnd());
            if (done !== null) return finish('exit', done);
            out.push(line);
            watch.heard();
            onData?.(line);
          };
          if (!this.alive) return this.current(null);
          this.ch.write(`${request}\n`);
        }),
    );
  }

  /** End its stdin and wait (at most `ms`) for it to exit, in the queue: the next channel
   * opens only after this one's exit is handled. */
  close(ms = 2000): Promise<void> {
    return this.ssh.enqueue(
      () =>
        new Promise<void>((resolve) => {
          if (!this.alive) return resolve();
          const t = setTimeout(resolve, ms);
          this.ch.once('close', () => {
            clearTimeout(t);
            resolve();
          });
          this.alive = false;
          this.ch.end();
        }),
    );
  }
}
