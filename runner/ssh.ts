// The one place that talks ssh2. Key auth, pinned host key, one channel at a time:
// dropbear 2022.83 drops the connection when a channel opens while the previous
// command's exit is still being handled.
import { connect as tcpConnect } from 'node:net';
import { Client } from 'ssh2';
import { InfraError } from './errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** QEMU accepts on the forwarded port before the guest listens: wait for the banner. */
export async function waitForBanner(port: number, deadline: number, alive: () => boolean): Promise<void> {
  while (Date.now() < deadline) {
    if (!alive()) throw new InfraError('boot', 'QEMU exited before the guest answered SSH');
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      // Before the guest network is up, slirp holds an accepted connection open: give up soon.
      s.setTimeout(250, () => done(false));
      s.once('data', (d) => done(d.toString('latin1').startsWith('SSH-2.0-')));
      s.once('error', () => done(false));
      s.once('close', () => done(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new InfraError('boot', 'guest did not answer SSH before the boot timeout');
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export class Ssh {
  private queue: Promise<unknown> = Promise.resolve();
  private constructor(private readonly client: Client) {}

  static connect(port: number, privateKey: string, hostKey: Buffer, timeoutMs = 10_000): Promise<Ssh> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      c.once('ready', () => resolve(new Ssh(c)));
      c.once('error', (e: Error & { level?: string }) => {
        const phase = e.level === 'client-authentication' ? 'authentication failed' : e.message;
        reject(new InfraError('ssh', `SSH to the guest: ${phase}`));
      });
      c.connect({
        host: '127.0.0.1',
        port,
        username: 'root',
        privateKey,
        readyTimeout: timeoutMs,
        hostVerifier: (key: Buffer) => key.equals(hostKey),
      });
    });
  }

  /** Run one command; the next starts only once this channel has closed. */
  exec(cmd: string, opts: { stdin?: Buffer; timeoutMs?: number } = {}): Promise<ExecResult> {
    const run = () => this.execNow(cmd, opts);
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private execNow(cmd: string, { stdin, timeoutMs = 60_000 }: { stdin?: Buffer; timeoutMs?: number }): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      this.client.exec(cmd, (err, ch) => {
        if (err) return reject(new InfraError('ssh', `exec '${cmd}': ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | null = null;
        const timer = setTimeout(() => {
          ch.close();
          reject(new InfraError('run', `'${cmd}' did not finish within ${timeoutMs / 1000} s`, Buffer.concat(out).toString()));
        }, timeoutMs);
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => errOut.push(d));
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? null;
        });
        ch.on('close', () => {
          clearTimeout(timer);
          resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errOut).toString() });
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
