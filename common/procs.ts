// Every QEMU this process starts is registered here and killed when the process ends,
// however it ends: normal exit, an error, or a signal the CLI turns into an exit.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

export function track(p: ChildProcess): void {
  live.add(p);
  p.once('exit', () => live.delete(p));
}

export function killAll(): number {
  let n = 0;
  for (const p of live) {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGKILL');
      n++;
    }
  }
  return n;
}

process.once('exit', killAll);
