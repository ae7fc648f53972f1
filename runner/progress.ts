// What the user sees while a run works. On a terminal: one cli-progress bar per kernel
// (the suites its guests run, and cases done of the total of the suites started so far) with
// event lines printed above the bars. When stdout is not a terminal, or CI is set: plain lines,
// one per event, so CI logs stay readable.
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface KernelProgress {
  phase(text: string): void; // downloading …, booting …, zap
  cases(done: number, total: number): void;
  done(summary: string): void;
}

export interface Progress {
  line(text: string): void;
  kernel(name: string): KernelProgress;
  stop(): void;
}

const quiet: KernelProgress = { phase: () => undefined, cases: () => undefined, done: () => undefined };

/** Plain lines to `out` (the run already says each step in a line). */
export function plainProgress(out: (s: string) => void): Progress {
  return { line: (t) => out(`${t}\n`), kernel: () => quiet, stop: () => undefined };
}

export function barProgress(stream: NodeJS.WriteStream): Progress {
  const multi = new MultiBar(
    {
      stream,
      format: '{kernel} [{bar}] {value}/{total} {phase}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      autopadding: true,
      barsize: 24,
    },
    Presets.shades_classic,
  );
  return {
    line: (t) => multi.log(`${t}\n`),
    kernel(name) {
      const bar: SingleBar = multi.create(1, 0, { kernel: name.padEnd(22).slice(0, 22), phase: 'waiting' });
      return {
        phase: (text) => bar.update({ phase: text }),
        cases: (done, total) => {
          bar.setTotal(Math.max(total, 1));
          bar.update(done);
        },
        done: (summary) => bar.update({ phase: summary }),
      };
    },
    stop: () => multi.stop(),
  };
}

/** Bars on a terminal, plain lines in CI or a pipe. */
export function chooseProgress(stream: NodeJS.WriteStream, env = process.env): Progress {
  return stream.isTTY && !env.CI ? barProgress(stream) : plainProgress((s) => stream.write(s));
}
