// The cache folder: downloads, unpacked kernels, images and keys. Entries are made in a
// temporary folder and renamed into place, so a crash never leaves a half-built entry, and
// under a cross-process lock, so runs sharing a cache (CI jobs on one host) make each once.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';

export function cacheRoot(): string {
  return resolve(process.env.MMATRIX_CACHE ?? '.cache');
}

export function cachePath(...parts: string[]): string {
  return join(cacheRoot(), ...parts);
}

export function hashOf(parts: (string | number)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(String(p)).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** A cheap identity for a file: path, size and modification time. */
export function fileStamp(path: string): string {
  const s = statSync(path);
  return `${path}:${s.size}:${s.mtimeMs}`;
}

const building = new Map<string, Promise<boolean>>();

/** Build `dir` with `make(tmp)` unless it exists; returns true when it was built now. Callers
 * asking for the same entry at once (two guests of one kernel) share one build. */
export function buildOnce(dir: string, make: (tmp: string) => Promise<void>): Promise<boolean> {
  const pending = building.get(dir);
  if (pending) return pending.then(() => false);
  const p = build(dir, make).finally(() => building.delete(dir));
  building.set(dir, p);
  return p;
}

/** Run `fn` holding the cache's lock for `path` (a file `<path>.lock`, made with proper-lockfile:
 * atomic mkdir, refreshed while held, taken over when its holder died). Another process waits
 * for it, and `waiting` is called once so the progress line can say so. */
export async function withLock<T>(path: string, fn: () => Promise<T>, waiting: () => void = () => {}): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const opts = { realpath: false, lockfilePath: `${path}.lock`, stale: 60_000, update: 10_000 };
  let release: () => Promise<void>;
  for (let told = false; ; ) {
    try {
      release = await lockfile.lock(path, opts);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') throw e;
      if (!told) waiting();
      told = true;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {}); // taken over as stale: nothing left to release
  }
}

function build(dir: string, make: (tmp: string) => Promise<void>): Promise<boolean> {
  if (existsSync(dir)) return Promise.resolve(false);
  return withLock(
    dir,
    () => buildLocked(dir, make),
    () => process.stderr.write(`waiting for another mmatrix to finish ${dir}\n`),
  );
}

async function buildLocked(dir: string, make: (tmp: string) => Promise<void>): Promise<boolean> {
  if (existsSync(dir)) return false; // the other process made it while this one waited
  mkdirSync(dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    await make(tmp);
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return true;
}
