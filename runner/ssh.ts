// The one place that talks ssh2. Key auth, pinned host key, one channel at a time:
// dropbear 2022.83 drops the connection when a channel opens while the previous
// command's exit is still being handled.
import { connect as tcpConnect, type Socket } from 'node:net';
import { Client } from 'ssh2';
import { InfraError } from './errors.js';

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
      c.once('error', (e: Error & { level?: string }) => {
        const phase = e.level === 'client-authentication' ? 'authentication failed' : e.message;
        reject(new InfraError('ssh', `SSH to the guest: ${phase}`));
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
   * connection is an error here; streamed() reports them as how the command ended. */
  async exec(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.streamed(cmd, opts);
    if (r.ended === 'timeout' || r.ended === 'idle') throw new InfraError('run', `'${cmd}' did not finish within ${(opts.timeoutMs ?? 60_000) / 1000} s`, r.stdout);
    if (r.ended === 'lost') throw new InfraError('ssh', `the guest went away during '${cmd}'`, r.stdout);
    return r;
  }

  /** Run one command, streaming stdout to onData; resolves however it ends, with what it printed. */
  streamed(cmd: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const run = () => this.execNow(cmd, opts);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
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
        let idle: NodeJS.Timeout | undefined;
        const finish = () => {
          clearTimeout(timer);
          clearTimeout(idle);
          this.client.removeListener('close', onLost);
          resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString(), ended });
        };
        const stop = (why: ExecResult['ended']) => {
          ended = why;
          ch.close();
          finish();
        };
        const onLost = () => stop('lost');
        const timer = setTimeout(() => stop('timeout'), timeoutMs);
        const armIdle = () => {
          if (!idleMs) return;
          clearTimeout(idle);
          idle = setTimeout(() => stop('idle'), idleMs);
        };
        armIdle();
        this.client.once('close', onLost);
        ch.on('data', (d: Buffer) => {
          out.push(d);
          armIdle();
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
