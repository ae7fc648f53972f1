// The subcommands that read rather than run: show, kernels, images.
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cachePath } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { suggest } from '../common/suggest.js';
import { lastAnswer } from '../images/apt.js';
import { DEBIAN_SUITES, type DebKernel, resolveDebian, suiteOfVersion } from '../images/debian.js';
import { type Coverage, coveringOf, loadCoverage, whereOf } from '../reports/coverage.js';
import type { Expectations } from '../reports/expectations.js';
import { kernelTitle, type Results } from '../reports/results.js';
import { listSnapshots } from './snapshot.js';

/** A case across the kernels of a run: its observation, its expectation and the source. */
export function showCase(r: Results, id: string, x: Expectations, map: Coverage = loadCoverage()): string {
  const ids = [...new Set(r.kernels.flatMap((k) => k.cases.map((c) => c.id)))];
  if (!ids.includes(id)) throw new InputError(`no case '${id}' in run ${r.runId}; did you mean ${suggest(id, ids).join(', ')}?`);
  const out = [`${id}  (run ${r.runId})`];
  const lines = coveringOf(map, id);
  out.push(
    lines.length
      ? `selftests that check it (${map.tree}):\n${lines.map((a) => `  ${whereOf(a)}: ${a.asserts}`).join('\n')}`
      : 'selftests that check it: none in the coverage map',
  );
  for (const k of r.kernels) {
    const c = k.cases.find((x) => x.id === id);
    out.push('', `== ${kernelTitle(k, r.kernels)} (${k.spec} ${k.version}, ${k.accel ?? '?'})`);
    if (!c) {
      out.push('not run');
      continue;
    }
    out.push(`status: ${c.status}${c.reason ? ` (${c.reason})` : ''}`);
    if (c.selftest) {
      out.push(`result: ${c.selftest.result}`, `tree: ${c.selftest.tree}`, `command: ${c.selftest.command}`);
      if (c.selftest.detail) out.push('lines:', ...c.selftest.detail.split('\n').map((l) => `  ${l}`));
    }
    if (c.observation) {
      out.push(`label: ${c.observation.label}`);
      const expected = k.release ? x.expected(id, k.release) : null;
      out.push(
        expected
          ? `expected: ${expected.label} ${expected.label === c.observation.label ? '✓' : '✗'}\nsource: ${expected.source}`
          : 'expected: (no entry in the table)',
      );
      out.push(
        'observation:',
        ...JSON.stringify(c.observation, null, 2)
          .split('\n')
          .map((l) => `  ${l}`),
      );
    }
    if (c.console) out.push('console:', ...c.console.split('\n').map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

function duBytes(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.blocks * 512;
  return readdirSync(path).reduce((n, f) => n + duBytes(join(path, f)), 0);
}

/** Known kernel sources, their newest versions (from the package lists, fetched if missing), and what is cached. */
export async function listKernels(resolve: boolean): Promise<string> {
  const cached = existsSync(cachePath('kernels')) ? readdirSync(cachePath('kernels')) : [];
  const rows = ['| kernel | line | newest | cached |', '|---|---|---|---|'];
  for (const [suite, line] of Object.entries(DEBIAN_SUITES)) {
    let newest = '(not looked up; `mmatrix kernels --resolve`)';
    if (resolve) newest = (await resolveDebian(suite)).version;
    else newest = lastAnswer<DebKernel>(suite, 'resolved.json')?.version ?? newest;
    const have = cached.filter((d) => d.startsWith('debian-') && d.endsWith(`_${newest}`));
    const other = cached.filter((d) => d.startsWith('debian-') && suiteOfVersion(d.split('_')[1] ?? '') === suite && !have.includes(d));
    rows.push(
      `| debian:${suite} | ${line} | ${newest} | ${have.length ? 'yes' : 'no'}${other.length ? ` (also ${other.map((d) => d.split('_')[1]).join(', ')})` : ''} |`,
    );
  }
  const custom = cached.filter((d) => d.startsWith('bzimage-'));
  const built = cached.filter((d) => d.startsWith('src-') && !d.includes('.tmp-'));
  const trees = existsSync(cachePath('build')) ? readdirSync(cachePath('build')).length : 0;
  return `${[
    rows.join('\n'),
    '',
    'Also: debian:<package version> (an exact version the archive still has), bzimage:<path>[,modules=<dir>] (your build),',
    "src:<tree>[,patches=<mbox|dir>] (built here from a kernel tree; src:debian:<suite> builds that suite's linux-source).",
    custom.length ? `Cached bzimage kernels: ${custom.length}.` : '',
    built.length ? `Cached source builds: ${built.length}, from ${trees} build tree(s) in ${cachePath('build')}.` : '',
  ]
    .filter(Boolean)
    .join('\n')}\n`;
}

interface ImageEntry {
  name: string;
  kernel: string; // what the entry is for: a kernel, or node's disk (one for every image)
  path: string;
  bytes: number;
  built: Date;
}

/** The images, and node's disks that they share (`nodedisk/<hash>`). */
export function listImages(): ImageEntry[] {
  const entries = (folder: string, kernel: (d: string) => string, name: (d: string) => string) => {
    const dir = cachePath(folder);
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((d) => !d.includes('.tmp-') && !d.endsWith('.lock'))
      .map((d) => ({ name: name(d), kernel: kernel(d), path: join(dir, d), bytes: duBytes(join(dir, d)), built: statSync(join(dir, d)).mtime }));
  };
  return [
    ...entries(
      'images',
      (d) => d.replace(/-[0-9a-f]{16}$/, ''),
      (d) => d,
    ),
    ...entries(
      'nodedisk',
      () => 'nodedisk',
      (d) => `nodedisk/${d} (node's disk, shared by the images)`,
    ),
  ];
}

export function renderImages(entries: ImageEntry[]): string {
  if (!entries.length) return 'no images cached\n';
  const rows = entries.map((e) => `| ${e.name} | ${mb(e.bytes)} | ${e.built.toISOString().slice(0, 16)} |`);
  const total = entries.reduce((n, e) => n + e.bytes, 0);
  return `${['| image | size | built |', '|---|---|---|', ...rows, '', `${entries.length} image(s), ${mb(total)}`].join('\n')}\n`;
}

/** Remove every image but the newest of each kernel (all of them with `all`). */
export function pruneImages(all: boolean): ImageEntry[] {
  const entries = listImages().sort((a, b) => b.built.getTime() - a.built.getTime());
  const keep = new Set<string>();
  const removed = entries.filter((e) => {
    if (!all && !keep.has(e.kernel)) {
      keep.add(e.kernel);
      return false;
    }
    return true;
  });
  for (const e of removed) rmSync(e.path, { recursive: true, force: true });
  return removed;
}

/** Remove the snapshots of machines whose kernel, image or disks are gone (every one with `all`);
 * returns how many, and the bytes they held. */
export function pruneSnapshots(all: boolean): { count: number; bytes: number } {
  const gone = listSnapshots().filter((s) => all || !s.current);
  const bytes = gone.reduce((n, s) => n + duBytes(s.path), 0);
  for (const s of gone) rmSync(s.path, { recursive: true, force: true });
  return { count: gone.length, bytes };
}

/** Remove the source build trees (the copies and their objects); built kernels stay cached. */
export function pruneBuilds(): number {
  const dir = cachePath('build');
  const bytes = duBytes(dir);
  rmSync(dir, { recursive: true, force: true });
  return bytes;
}
