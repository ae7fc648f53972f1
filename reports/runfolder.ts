// The run folder: runs/<id>/ with results.json, matrix.md and per guest its console log
// and raw TAP; runs/latest points at the newest. Files are written whole and renamed.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderMarkdown } from './markdown.js';
import type { Results } from './results.js';

export function newRunId(d = new Date()): string {
  return d.toISOString().replace(/\..*$/, '').replace(/:/g, '-');
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export class RunFolder {
  readonly dir: string;
  readonly id: string;

  /** A new folder under `root`; a second run in the same second gets a suffix, never the same folder. */
  constructor(
    readonly root: string,
    wanted: string,
  ) {
    mkdirSync(root, { recursive: true });
    let id = wanted;
    for (let n = 2; ; n++) {
      try {
        mkdirSync(resolve(root, id));
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        id = `${wanted}-${n}`;
      }
    }
    this.id = id;
    this.dir = resolve(root, id);
    const latest = join(root, 'latest');
    try {
      readlinkSync(latest);
      rmSync(latest);
    } catch {
      /* no link yet */
    }
    symlinkSync(this.id, latest);
  }

  guestDir(kernelId: string): string {
    const d = join(this.dir, kernelId);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** Save results.json and matrix.md; called after every kernel, so nothing finished is lost. */
  save(r: Results): void {
    writeAtomic(join(this.dir, 'results.json'), JSON.stringify(r, null, 2) + '\n');
    writeAtomic(join(this.dir, 'matrix.md'), renderMarkdown(r));
  }
}
