// A TAP 14 emitter for the guest: version, plan first, one point per case with the
// observation as its YAML block. JSON scalars are valid YAML, so values are written
// with JSON.stringify and nested objects as block mappings.

import { writeSync } from 'node:fs';

type Write = (s: string) => void;

/** All of `s` to fd 1, waiting out EAGAIN should the pipe be non-blocking. */
function writeOut(s: string): void {
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
      out.push(`${indent}${k}:`, ...yamlLines(v, indent + '  '));
    } else {
      out.push(`${indent}${k}: ${JSON.stringify(v)}`);
    }
  }
  return out;
}

export class Tap {
  private n = 0;
  // Synchronous: a line must be out before the next case can take the kernel down.
  constructor(private readonly write: Write = writeOut) {}

  plan(count: number): void {
    this.write(`TAP version 14\n1..${count}\n`);
  }

  point(ok: boolean, id: string, diag?: object, directive?: string): void {
    this.n += 1;
    const dir = directive ? ` # ${directive}` : '';
    let s = `${ok ? 'ok' : 'not ok'} ${this.n} - ${id}${dir}\n`;
    if (diag) s += `  ---\n${yamlLines(diag, '  ').join('\n')}\n  ...\n`;
    this.write(s);
  }

  skip(id: string, reason: string): void {
    this.point(true, id, undefined, `SKIP ${reason}`);
  }

  comment(text: string): void {
    this.write(`# ${text}\n`);
  }

  bail(reason: string): void {
    this.write(`Bail out! ${reason}\n`);
  }
}
