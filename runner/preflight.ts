// Bad input found before anything starts: no QEMU to run, or a case pattern that names no case.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { InputError } from '../images/apt.js';
import { suggest } from '../images/suggest.js';
import { caseFilter } from '../guest/pattern.js';
import type { GuestEnv } from '../suites/memtypes.js';

/** The QEMU binary on PATH, or an InputError saying how to get it. */
export function findQemu(name = 'qemu-system-x86_64', path = process.env.PATH ?? ''): string {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      /* not here */
    }
  }
  throw new InputError(`no QEMU: ${name} is not on PATH (\`make deps\` installs qemu-system-x86)`);
}

/** Every case id the suites can produce (a guest with every pool, ext4 and THP). */
export async function allCaseIds(): Promise<string[]> {
  const env: GuestEnv = { hugePage: 2 << 20, pools: { [2 << 20]: 64, [1 << 30]: 2 }, hugetlbfs: '', hugetlbfs1g: '', tmpfs: '', ext4: '', thp: 'madvise' };
  const mods = await Promise.all([import('../suites/zap.js'), import('../suites/populate.js'), import('../suites/mremap.js'), import('../suites/advice.js'), import('../suites/resv.js')]);
  const [zap, populate, mremap, advice, resv] = mods;
  return [...zap.zapCases(env), ...populate.populateCases(env), ...mremap.mremapCases(env), ...advice.adviceCases(env), ...resv.resvCases(env)].map((c) => c.id);
}

/** Each pattern must match some case; a typo gets the nearest ids. */
export function checkPatterns(patterns: string[], ids: string[]): void {
  for (const p of patterns) {
    if (!ids.some(caseFilter([p]))) throw new InputError(`no case matches '${p}' (did you mean ${suggest(p.replace(/[*{}]/g, ''), ids, 2).join(', ')}?)`);
  }
}
