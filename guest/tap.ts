// A TAP 14 emitter for the guest: version, plan first, one point per case with the
// observation as its YAML block. JSON scalars are valid YAML, so values are written
// with JSON.stringify and nested objects as block mappings.

import { writeSync } from 'node:fs';

type Write = (s: string) => void;

/** All of `s` to fd 1, waiting out EAGAIN should the pipe be non-blocking. */
export function writeOut(s: string): void {
  const b = Buffer.from(s);
  for (let off = 0; off < b.length; ) {
    try {
      off += writeSync(1, b, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

function yamlLines(value: unknown, indent: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return [`${indent}${JSON.stringify(value)}`];
  }
  const out: string[] = [];
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      out.push(`${indent}${k}:`, ...yamlLines(v, `${indent}  `));
    } else {
      out.push(`${indent}${k}: ${JSON.stringify(v)}`);
    }
  }
  return out;
}

/** flushIfDue() writes what is held once it is this long, or this old. */
export const BATCH = { bytes: 16 << 10, ms: 200 } as const;

export class Tap {
  private n = 0;
  private held = '';
  private wrote: number;
  // Lines are held until flush(), which writes them at once, synchronously, or flushIfDue(), which
  // writes them in batches: every write is an SSH packet from the guest, and under TCG each costs
  // time (docs/figures.md, Figures behind the code). runCases says which it needs.
  constructor(
    private readonly write: Write = writeOut,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.wrote = now();
  }

  flush(): void {
    if (this.held) this.write(this.held);
    this.held = '';
    this.wrote = this.now();
  }

  /** flush() once BATCH.bytes are held or the last write was BATCH.ms ago. */
  flushIfDue(): void {
    if (this.held.length >= BATCH.bytes || this.now() - this.wrote >= BATCH.ms) this.flush();
  }

  plan(count: number): void {
    this.hold(`TAP version 14\n1..${count}\n`);
  }

  point(ok: boolean, id: string, diag?: object, directive?: string): void {
    this.n += 1;
    const dir = directive ? ` # ${directive}` : '';
    let s = `${ok ? 'ok' : 'not ok'} ${this.n} - ${id}${dir}\n`;
    if (diag) s += `  ---\n${yamlLines(diag, '  ').join('\n')}\n  ...\n`;
    this.hold(s);
  }

  skip(id: string, reason: string): void {
    this.point(true, id, undefined, `SKIP ${reason}`);
  }

  comment(text: string): void {
    this.hold(`# ${text}\n`);
  }

  bail(reason: string): void {
    this.hold(`Bail out! ${reason}\n`);
    this.flush();
  }

  private hold(s: string): void {
    this.held += s;
  }
}
