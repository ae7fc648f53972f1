// What the CLI does with a bug (an error nothing caught) and with a terminal that went away.
// A reader that closes stdout or stderr (`| head`, a killed test runner) makes the next write
// fail with EPIPE, emitted as an error on that stream. Left to the uncaught-error handler, whose
// own one line to stderr fails the same way, that was a loop: one process wrote millions of
// error logs to the temporary folder, until the folder had no room left for anyone.
import { appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The exit code of a bug (the CLI's table of exit codes takes it from here). */
export const EXIT_INTERNAL = 3;

let logPath: string | null = null; // one log per process, however many errors it holds

/** Every cause of `e`, each with its stack, outermost first (at most ten). */
export function causeChain(e: unknown): string {
  const chain: string[] = [];
  for (let c: unknown = e, depth = 0; c !== undefined && depth < 10; c = (c as { cause?: unknown }).cause, depth++) {
    chain.push(`${depth ? 'caused by: ' : ''}${c instanceof Error ? (c.stack ?? c.message) : String(c)}`);
  }
  return chain.join('\n\n');
}

/** A bug, not a verdict: one line on stderr naming a log that holds the stack and every cause.
 * Later errors of the same process go into the same log, without another line. */
export function internalError(e: unknown): void {
  process.exitCode = EXIT_INTERNAL;
  const text = `${causeChain(e)}\n`;
  try {
    if (logPath) {
      appendFileSync(logPath, `\n${text}`);
      return;
    }
    logPath = join(tmpdir(), `mmatrix-error-${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}.log`);
    writeFileSync(logPath, `mmatrix ${process.argv.slice(2).join(' ')}\n\n${text}`);
  } catch {
    /* the one line below still says what happened */
  }
  const first = e instanceof Error ? e.message : String(e);
  process.stderr.write(`mmatrix: internal error: ${first.split('\n')[0]} (stack in ${logPath})\n`);
}

/** When a stream fails (its reader has gone: EPIPE), its writes become no-ops: the command
 * still finishes its work (a run still writes its results), it only stops talking. Any other
 * failure of the stream is also logged as a bug. */
export function quietWhenReaderGone(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    stream.write = (() => true) as typeof stream.write;
    if (e.code !== 'EPIPE') internalError(e);
  });
}
