// Debian kernels by suite: the newest linux-image-<abi>-amd64[-unsigned] of the suite,
// plus the linux-base/binary/modules packages it depends on where 7.x splits them out.

import { cachePath } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { aptDownload, aptNames, aptShow, aptSuite, aptUpdate, oncePerLists, type Record822 } from './apt.js';
import { compareDebVersions } from './debversion.js';

export const DEBIAN_SUITES: Record<string, string> = {
  bullseye: '5.10',
  bookworm: '6.1',
  trixie: '6.12',
  sid: '7.2',
  experimental: '7.3',
};

/** The suite whose kernel line a package version belongs to: 6.1.176-1 → bookworm, 6.12.… → trixie. */
export function suiteOfVersion(version: string): string | null {
  const hit = Object.entries(DEBIAN_SUITES).find(([, line]) => version.startsWith(line) && !/^\d/.test(version.slice(line.length)));
  return hit?.[0] ?? null;
}

// linux-image-6.1.0-50-amd64-unsigned, linux-image-6.12.117+deb13-amd64, linux-image-7.3-amd64;
// not the cloud/rt flavours nor the meta package linux-image-amd64.
const IMAGE = /^linux-image-(\d[\d.]*(?:-\d+)?(?:\+deb\d+)?)-amd64(-unsigned)?$/;
const SPLIT_PART = /^(linux-(?:base|binary|modules)-\S+)\s*\(=\s*([^)]+)\)$/;

export interface DebPackage {
  name: string;
  version: string;
  size?: number; // bytes, when the index says
}

export interface DebKernel {
  suite: string;
  abi: string;
  version: string;
  packages: DebPackage[]; // what must be downloaded and unpacked
}

/** Pick the newest kernel (or the one of `version`) from `apt-cache show` records. Pure, for tests. */
export function pickKernel(suite: string, recs: Record822[], version: string | null = null): DebKernel | null {
  const images = recs.filter((r) => IMAGE.test(r.Package) && (version === null || r.Version === version));
  if (images.length === 0) return null;
  images.sort((a, b) => {
    const v = compareDebVersions(b.Version, a.Version);
    if (v) return v;
    return Number(b.Package.endsWith('-unsigned')) - Number(a.Package.endsWith('-unsigned'));
  });
  const best = images[0];
  const abi = IMAGE.exec(best.Package)![1];
  const deps = (best.Depends ?? '').split(',').map((d) => d.trim());
  const split = deps.map((d) => SPLIT_PART.exec(d)).filter((m): m is RegExpExecArray => m !== null);
  const packages = split.length
    ? split.map((m) => ({ name: m[1], version: m[2].trim() }))
    : [{ name: best.Package, version: best.Version, ...(best.Size ? { size: Number(best.Size) } : {}) }];
  return { suite, abi, version: best.Version, packages };
}

export async function resolveDebian(suite: string, refresh = false, log: (s: string) => void = () => {}, version: string | null = null): Promise<DebKernel> {
  if (!(suite in DEBIAN_SUITES)) {
    throw new InputError(`unknown Debian suite '${suite}' (known: ${Object.keys(DEBIAN_SUITES).join(', ')})`);
  }
  const apt = aptSuite(suite);
  if (await aptUpdate(apt, refresh)) log(`fetched the package index of Debian ${suite}`);
  return oncePerLists(apt, version ? `resolved-${version}.json` : 'resolved.json', async () => {
    const names = (await aptNames(apt, 'linux-image-')).filter((n) => IMAGE.test(n));
    const recs = await aptShow(apt, names);
    const kernel = pickKernel(suite, recs, version);
    if (!kernel && version) {
      const have = [...new Set(recs.filter((r) => IMAGE.test(r.Package)).map((r) => r.Version))].join(', ');
      throw new InputError(`Debian ${suite} has no kernel ${version} (it has ${have || 'none'}); older versions are not in the archive`);
    }
    if (!kernel) throw new InputError(`no amd64 kernel image in Debian ${suite}`);
    // Sizes of split-out parts (7.x) come from their own records.
    const sizes = new Map(
      (
        await aptShow(
          apt,
          kernel.packages.map((p) => p.name),
        )
      ).map((r) => [`${r.Package}=${r.Version}`, Number(r.Size)]),
    );
    for (const p of kernel.packages) p.size ??= sizes.get(`${p.name}=${p.version}`);
    return kernel;
  });
}

export async function downloadDebian(k: DebKernel, log: (s: string) => void = () => {}): Promise<string[]> {
  const apt = aptSuite(k.suite);
  const dir = cachePath('debs');
  const files: string[] = [];
  for (const p of k.packages) {
    const mb = p.size ? ` ${(p.size / 1e6).toFixed(0)} MB` : '';
    files.push(await aptDownload(apt, p.name, p.version, dir, () => log(`downloading ${p.name} ${p.version}${mb}`)));
  }
  return files;
}
