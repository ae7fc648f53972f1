// Where the project's own files are, wherever it is run from (sources or dist/).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`mmatrix: package.json not found above ${import.meta.url}`);
    dir = up;
  }
  return dir;
}

export const ROOT = findRoot();
export const fromRoot = (...p: string[]) => join(ROOT, ...p);

/** A path as the user wrote it: `-k src:~/linux` reaches us with the ~ the shell left alone. */
export const userPath = (p: string) => resolve(p.startsWith('~/') ? join(homedir(), p.slice(2)) : p);
