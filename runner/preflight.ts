// Bad input found before anything starts: no QEMU to run, or a case pattern that names no case.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { InputError } from '../common/errors.js';
import { suggest } from '../common/suggest.js';
import { caseFilter } from '../guest/pattern.js';

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

/** Each pattern must match some case; a typo gets the nearest ids. */
export function checkPatterns(patterns: string[], ids: string[]): void {
  for (const p of patterns) {
    if (!ids.some(caseFilter([p]))) throw new InputError(`no case matches '${p}' (did you mean ${suggest(p.replace(/[*{}]/g, ''), ids, 2).join(', ')}?)`);
  }
}
