// The run folder: runs/<id>/ with results.json, matrix.md and per guest its console log
// and raw TAP; runs/latest points at the newest. Files are written whole and renamed.
import { appendFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderHtml } from './html.js';
import { renderJunit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import type { CaseResult, Results } from './results.js';

export function newRunId(d = new Date()): string {
  return d.toISOString().replace(/\..*$/, '').replace(/:/g, '-');
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** results.json in `dir`: what a resumed run and `mmatrix report` start from. */
export function writeResults(dir: string, r: Results): void {
  writeAtomic(join(dir, 'results.json'), `${JSON.stringify(r, null, 2)}\n`);
}

/** results.json, matrix.md, matrix.html and junit.xml in `dir`. */
export function writeReports(dir: string, r: Results): void {
  writeResults(dir, r);
  writeAtomic(join(dir, 'matrix.md'), renderMarkdown(r));
  writeAtomic(join(dir, 'matrix.html'), renderHtml(r));
  writeAtomic(join(dir, 'junit.xml'), renderJunit(r));
}

/** runs/latest -> id, replaced atomically (a new link renamed over the old): two runs started
 * at once both succeed, one of them is latest, and latest never points at itself. */
export function pointLatest(root: string, id: string): void {
  if (id === 'latest') throw new Error('a run folder cannot be called latest');
  const tmp = join(root, `.latest-${process.pid}-${Math.random().toString(36).slice(2)}`);
  symlinkSync(id, tmp);
  renameSync(tmp, join(root, 'latest'));
}

export class RunFolder {
  readonly dir: string;
  readonly id: string;

  /** A new folder under `root`; a second run in the same second gets a suffix, never the same
   * folder. With `existing`, that folder itself (a resumed run). */
  constructor(
    readonly root: string,
    wanted: string,
    existing = false,
  ) {
    mkdirSync(root, { recursive: true });
    let id = wanted;
    for (let n = 2; !existing; n++) {
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
    pointLatest(root, this.id);
  }

  guestDir(kernelId: string): string {
    const d = join(this.dir, kernelId);
    mkdirSync(d, { recursive: true });
    return d;
  }

  /** One line per finished case in cases.jsonl, written as it arrives: a runner that dies
   * mid-suite still leaves every case it had. */
  appendCase(kernel: string, c: CaseResult): void {
    appendFileSync(join(this.dir, 'cases.jsonl'), `${JSON.stringify({ kernel, ...c })}\n`);
  }

  /** Save results.json alone: after every family, so nothing finished is lost (`mmatrix report`
   * renders the rest from it should the run be killed before its end). */
  saveResults(r: Results): void {
    writeResults(this.dir, r);
  }

  /** Save results.json and the reports: at the end of a run, or when it is stopped. */
  save(r: Results): void {
    writeReports(this.dir, r);
  }
}
