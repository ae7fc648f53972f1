// One step of a build from source (a kernel, dropbear): its output goes to the build's log.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import { track } from '../common/procs.js';

/** Run a build step with its output in the build log; a failure names the log and its last error line. */
export async function step(log: string, what: string, cmd: string[], cwd: string): Promise<void> {
  writeFileSync(log, `$ ${cmd.join(' ')}\n`, { flag: 'a' });
  const fd = openSync(log, 'a');
  // Tracked like a guest: an interrupted run leaves no make behind writing into the cache.
  const p = spawn(cmd[0], cmd.slice(1), { cwd, stdio: ['ignore', fd, fd] });
  track(p);
  const code = await new Promise<number | null>((done) => {
    p.on('error', () => done(-1));
    p.on('exit', (c) => done(c));
  });
  closeSync(fd);
  if (code !== 0) {
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    const err = [...lines].reverse().find((l) => /error|Error|fatal|No rule/.test(l)) ?? lines.at(-1);
    throw new InputError(`${what} failed: ${err?.trim()} (full log: ${log})`);
  }
}
