// An SSH server in this process (ssh2's own Server, as ssh2's tests use it) that plays a
// guest's dropbear: key auth, exec, and the guest's request server answering in the protocol.
import type { AddressInfo, Socket } from 'node:net';
import ssh2, { type ServerChannel } from 'ssh2';
import { encodeDone } from '../../guest/protocol.js';

export interface Sshd {
  port: number;
  hostKey: Buffer; // the blob the client pins
  clientKey: string; // a private key the server accepts
  close(): Promise<void>;
  dropAll(): void; // cut every connection, as a dying guest does
  resetAll(): void; // reset every connection's TCP socket (RST), as dropbear may after a refused login
}

/** What a request line gets: what to print and the exit code, nothing at all, or a dropped connection. */
export type Handler = (request: string, ch: ServerChannel) => { out: string; code: number } | 'silent' | 'drop';

const keyPair = () => ssh2.utils.generateKeyPairSync('ed25519');

export async function startSshd(serve: Handler, exec: (cmd: string) => { out: string; code: number } = () => ({ out: '', code: 0 })): Promise<Sshd> {
  const host = keyPair();
  const client = keyPair();
  const allowed = ssh2.utils.parseKey(client.public);
  if (allowed instanceof Error) throw allowed;
  const conns = new Set<ssh2.Connection>();
  const server = new ssh2.Server({ hostKeys: [host.private] }, (conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => {
      if (ctx.method === 'publickey' && ctx.key.data.equals(allowed.getPublicSSH())) return ctx.accept();
      ctx.reject(['publickey']);
    });
    conn.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec, _reject, info) => {
        const ch = acceptExec();
        if (!info.command.includes('suites/main.js')) {
          const r = exec(info.command);
          ch.write(r.out);
          ch.exit(r.code);
          ch.end();
          return;
        }
        // The guest's request server: one JSON line in, its answer and a done line out.
        let held = '';
        ch.on('data', (d: Buffer) => {
          held += d.toString();
          for (let nl = held.indexOf('\n'); nl >= 0; nl = held.indexOf('\n')) {
            const line = held.slice(0, nl);
            held = held.slice(nl + 1);
            const a = serve(line, ch);
            if (a === 'silent') continue;
            if (a === 'drop') return conn.end();
            ch.write(a.out + encodeDone(a.code));
          }
        });
        ch.on('end', () => {
          ch.exit(0);
          ch.end();
        });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const hostKey = ssh2.utils.parseKey(host.public);
  if (hostKey instanceof Error) throw hostKey;
  return {
    port: (server.address() as AddressInfo).port,
    hostKey: hostKey.getPublicSSH(),
    clientKey: client.private,
    dropAll: () => {
      for (const c of conns) c.end();
    },
    resetAll: () => {
      // ssh2 keeps a connection's socket as _sock; the test needs the RST itself.
      for (const c of conns) (c as unknown as { _sock: Socket })._sock.resetAndDestroy();
    },
    close: () =>
      new Promise((r) => {
        for (const c of conns) c.end();
        server.close(() => r());
      }),
  };
}
