// SSH keys: one client key per cache (mode 0600), one dropbear host key per image,
// whose public half the runner pins. The client key is RSA: dropbear checks an RSA signature
// (public exponent 65537) faster than an Ed25519 one under TCG (docs/figures.md).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { $ } from 'zx/core';
import { cachePath } from '../common/cache.js';

export interface ClientKey {
  privateKey: string; // OpenSSH format
  publicLine: string; // authorized_keys line
}

/** The runner's client key pair, made once per cache. Runs sharing a cache may ask at the same
 * moment: each writes a pair into a folder of its own and renames it into place; the first
 * rename wins and the others read its pair (the key is baked into every image's hash). */
export function clientKey(): ClientKey {
  const dir = cachePath('keys', 'client');
  const priv = join(dir, 'id_rsa');
  const pub = `${priv}.pub`;
  if (!existsSync(pub)) {
    mkdirSync(cachePath('keys'), { recursive: true, mode: 0o700 });
    const tmp = mkdtempSync(join(cachePath('keys'), '.client-'));
    const k = ssh2.utils.generateKeyPairSync('rsa', { bits: 2048, comment: 'mmatrix' });
    writeFileSync(join(tmp, 'id_rsa'), k.private, { mode: 0o600 });
    writeFileSync(join(tmp, 'id_rsa.pub'), `${k.public}\n`, { mode: 0o600 });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      if (!['EEXIST', 'ENOTEMPTY'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
      rmSync(tmp, { recursive: true, force: true }); // another run's pair is in place
    }
  }
  chmodSync(priv, 0o600);
  return { privateKey: readFileSync(priv, 'utf8'), publicLine: readFileSync(pub, 'utf8').trim() };
}

/** Make a dropbear ed25519 host key at `path`; returns its public line (ssh-ed25519 AAAA…). */
export async function makeHostKey(path: string): Promise<string> {
  await $({ quiet: true })`dropbearkey -t ed25519 -f ${path}`;
  chmodSync(path, 0o600);
  const out = (await $({ quiet: true })`dropbearkey -y -f ${path}`).stdout;
  const line = out.split('\n').find((l) => l.startsWith('ssh-ed25519 '));
  if (!line) throw new Error('dropbearkey printed no public key');
  return line.split(' ').slice(0, 2).join(' ');
}

/** The raw key blob of a public line, as ssh2's hostVerifier receives it. */
export function keyBlob(publicLine: string): Buffer {
  return Buffer.from(publicLine.split(' ')[1], 'base64');
}
