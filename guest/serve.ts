// The guest side of the runner's one node process per guest: requests come one JSON line at
// a time on stdin, and each answer is what the handler prints, then a done line with its exit
// code. Under TCG a node start with the suites' imports costs about a second; a guest running
// its families in one process pays it once.
import { readSync } from 'node:fs';
import { encodeDone, isRequest, type Request } from './protocol.js';
import { writeOut } from './tap.js';

/** stdin's lines, read synchronously (a request runs to its end before the next is read). */
export function* lines(fd = 0): Generator<string> {
  const buf = Buffer.alloc(4096);
  let held = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, buf, 0, buf.length, null);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      continue;
    }
    if (n === 0) break;
    held += buf.toString('utf8', 0, n);
    for (let nl = held.indexOf('\n'); nl >= 0; nl = held.indexOf('\n')) {
      yield held.slice(0, nl);
      held = held.slice(nl + 1);
    }
  }
  if (held) yield held;
}

/** Answer each request until stdin (`fd`) ends. A line that is no Request, or a handler that
 * throws, answers `Bail out!` and code 2. */
export function serve(answer: (request: Request) => number, fd = 0, write = writeOut): void {
  for (const line of lines(fd)) {
    if (!line.trim()) continue;
    let code: number;
    try {
      const request: unknown = JSON.parse(line);
      if (!isRequest(request)) throw new Error(`not a request: ${line.slice(0, 80)}`);
      code = answer(request);
    } catch (e) {
      write(`Bail out! ${(e as Error).message}\n`);
      code = 2;
    }
    write(encodeDone(code));
  }
}
