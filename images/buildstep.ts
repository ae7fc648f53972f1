// One step of a build from source (a kernel, dropbear): its output goes to the build's log.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import { track } from '../common/procs.js';

/** The line of a failed step's output that says why: the first compiler or shell error (make's
 * own `*** [...] Error 2` lines only repeat that something below failed), else the last line. */
export function failureLine(output: string): string {
  const lines = output.trim().split('\n');
  const cause = lines.find((l) => /(^|\s)(fatal )?error:|No space left on device|cannot create|command not found|No rule to make target/i.test(l));
  const make = [...lines].reverse().find((l) => /Error \d+|error/i.test(l));
  return (cause ?? make ?? lines.at(-1) ?? '').trim();
}

/** Run a build step with its output in the build log; a failure names the log and why it failed. */
export async function step(log: string, what: string, cmd: string[], cwd: string): Promise<void> {
  writeFileSync(log, `$ ${cmd.join(' ')}\n`, { flag: 'a' });
  const start = statSync(log).size;
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
    const own = readFileSync(log).subarray(start).toString('utf8');
    throw new InputError(`${what} failed: ${failureLine(own) || `exit ${code}`} (full log: ${log})`);
  }
}
