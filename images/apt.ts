// A private apt for one Debian suite: its own sources list, state and cache folders
// under the cache, so the system's apt configuration is never touched. apt verifies
// the archive signatures with Debian's keyring as usual.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx/core';
import { cachePath, fileStamp, withLock } from '../common/cache.js';
import { InputError } from '../common/errors.js';

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The Debian archive the system's apt already uses (deb822 or one-line sources). */
export function systemMirror(): string {
  if (process.env.MMATRIX_DEBIAN_MIRROR) return process.env.MMATRIX_DEBIAN_MIRROR;
  const files: string[] = [];
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list');
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (/\.(list|sources)$/.test(f)) files.push(join(dir, f));
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    const uris = [...text.matchAll(/^URIs:\s*(\S+)/gm), ...text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm)];
    const hit = uris.map((m) => m[1]).find((u) => /\/debian\/?$/.test(u));
    if (hit) return hit.replace(/\/$/, '');
  }
  throw new InputError('no Debian archive in the system apt sources; set MMATRIX_DEBIAN_MIRROR to one');
}

export interface AptSuite {
  suite: string;
  options: string[]; // -o flags that point apt at the private folders
}

/** A private apt for `suite`'s binary packages, or with `sources` for its source packages
 * (a folder of its own: binary suites never fetch the source indexes). */
export function aptSuite(suite: string, sources = false): AptSuite {
  const name = sources ? `${suite}-src` : suite;
  const dir = cachePath('apt', name);
  for (const d of ['etc/parts', 'etc/prefs', 'state/lists/partial', 'cache/archives/partial']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  const status = join(dir, 'state/status');
  if (!existsSync(status)) writeFileSync(status, '');
  // Rewritten only when it changes, and whole: another run's apt may be reading it.
  const list = join(dir, 'etc/sources.list');
  const line = `${sources ? 'deb-src' : 'deb'} [signed-by=${KEYRING}] ${systemMirror()} ${suite} main\n`;
  if (!existsSync(list) || readFileSync(list, 'utf8') !== line) {
    writeFileSync(`${list}.tmp-${process.pid}`, line);
    renameSync(`${list}.tmp-${process.pid}`, list);
  }
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  return {
    suite: name,
    options: [
      ...o('Dir::Etc::SourceList', join(dir, 'etc/sources.list')),
      ...o('Dir::Etc::SourceParts', join(dir, 'etc/parts')),
      ...o('Dir::Etc::Preferences', join(dir, 'etc/prefs/none')),
      ...o('Dir::Etc::PreferencesParts', join(dir, 'etc/prefs')),
      ...o('Dir::State', join(dir, 'state')),
      ...o('Dir::State::status', status),
      ...o('Dir::Cache', join(dir, 'cache')),
      ...o('Debug::NoLocking', '1'),
      ...o('APT::Architecture', 'amd64'),
      ...o('Acquire::Languages', 'none'),
    ],
  };
}

/** Identity of the suite's package lists: changes exactly when `apt-get update` fetched new ones. */
export function listsStamp(a: AptSuite): string {
  const lists = cachePath('apt', a.suite, 'state/lists');
  return readdirSync(lists)
    .filter((f) => f.includes('_Packages'))
    .sort()
    .map((f) => fileStamp(join(lists, f)))
    .join(';');
}

/** What `compute` answered for the suite's current package lists: apt-cache rebuilds its cache
 * on every call (~1 s each), so an answer is kept in `file` and reused until the lists change. */
export async function oncePerLists<T>(a: AptSuite, file: string, compute: () => Promise<T>): Promise<T> {
  const saved = cachePath('apt', a.suite, file);
  const stamp = listsStamp(a);
  if (existsSync(saved)) {
    const r = JSON.parse(readFileSync(saved, 'utf8')) as { stamp: string; value?: T };
    if (r.stamp === stamp && r.value !== undefined) return r.value;
  }
  const value = await compute();
  const tmp = `${saved}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ stamp, value }));
  renameSync(tmp, saved); // a run reading it at the same time sees the old answer or the new
  return value;
}

/** The last answer kept for a suite, whatever lists it came from (for listings), or null. */
export function lastAnswer<T>(suite: string, file: string): T | null {
  const saved = cachePath('apt', suite, file);
  return existsSync(saved) ? ((JSON.parse(readFileSync(saved, 'utf8')) as { value?: T }).value ?? null) : null;
}

function hasLists(a: AptSuite): boolean {
  const lists = cachePath('apt', a.suite, 'state/lists');
  return readdirSync(lists).some((f) => /_(Packages|Sources)/.test(f));
}

/** Fetch the suite's package lists, unless they are there already (or `refresh`). */
export async function aptUpdate(a: AptSuite, refresh = false): Promise<boolean> {
  if (!refresh && hasLists(a)) return false;
  return withLock(cachePath('apt', a.suite, 'update'), async () => (!refresh && hasLists(a) ? false : aptUpdateLocked(a)));
}

async function aptUpdateLocked(a: AptSuite): Promise<boolean> {
  if (!existsSync(KEYRING)) throw new InputError(`${KEYRING} missing: install debian-archive-keyring`);
  const r = await $({ nothrow: true, quiet: true })`apt-get ${a.options} -q update`;
  if (r.exitCode !== 0 || !hasLists(a)) {
    throw new InputError(`apt-get update for ${a.suite} failed: ${r.stderr.trim().split('\n').pop()}`);
  }
  return true;
}

export type Record822 = Record<string, string>;

export function parse822(text: string): Record822[] {
  return text
    .split(/\n\s*\n/)
    .map((block) => {
      const rec: Record822 = {};
      let key = '';
      for (const line of block.split('\n')) {
        if (/^\s/.test(line) && key) rec[key] += `\n${line.trim()}`;
        else {
          const m = /^([\w-]+):\s*(.*)$/.exec(line);
          if (m) {
            key = m[1];
            rec[key] = m[2];
          }
        }
      }
      return rec;
    })
    .filter((r) => r.Package);
}

export async function aptNames(a: AptSuite, prefix: string): Promise<string[]> {
  const r = await $({ quiet: true })`apt-cache ${a.options} pkgnames ${prefix}`;
  return r.stdout.split('\n').filter(Boolean);
}

export async function aptShow(a: AptSuite, names: string[]): Promise<Record822[]> {
  if (names.length === 0) return [];
  const r = await $({ quiet: true })`apt-cache ${a.options} show ${names}`;
  return parse822(r.stdout);
}

/** Download `name=version` into `dir` unless its file is there; returns the .deb's path. */
export async function aptDownload(a: AptSuite, name: string, version: string, dir: string, starting = () => {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  // amd64 for kernels, all for architecture-independent packages (virtme-ng).
  const found = () => ['amd64', 'all'].map((arch) => join(dir, `${name}_${version.replace(/:/g, '%3a')}_${arch}.deb`)).find((f) => existsSync(f));
  if (found()) return found()!;
  // apt-get download writes the .deb in place: one process at a time per package, in a folder
  // of its own, renamed beside the others when whole.
  return withLock(join(dir, `${name}_${version}`), async () => {
    if (found()) return found()!;
    starting();
    const tmp = mkdtempSync(join(dir, '.download-'));
    chmodSync(tmp, 0o755); // apt downloads as its _apt user
    try {
      const r = await $({ nothrow: true, quiet: true, cwd: tmp })`apt-get ${a.options} -q download ${`${name}=${version}`}`;
      const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (r.exitCode !== 0 || !deb) throw new InputError(`download of ${name} ${version} failed: ${r.stderr.trim().split('\n').pop()}`);
      renameSync(join(tmp, deb), join(dir, deb));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const file = found();
    if (!file) throw new InputError(`download of ${name} ${version} gave no ${name}_*.deb`);
    return file;
  });
}
