// Combining result files (shards of one run, or runs on different machines) into one.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InputError } from '../common/errors.js';
import { versionOf } from './expectations.js';
import { type CaseResult, type KernelResult, RESULTS_SCHEMA, type Results } from './results.js';
import { resultsProblem } from './validate.js';

/** The run folder a path names: the folder itself, or the one holding a results.json. */
export const runDir = (path: string) => (existsSync(path) && statSync(path).isDirectory() ? path : dirname(path));

/** results.json from a path that is the file or a run folder; refuses other schemas. */
export function loadResults(path: string): Results {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, 'results.json') : path;
  if (!existsSync(file)) throw new InputError(`no results at '${path}'`);
  let r: Results;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as Results;
  } catch (e) {
    throw new InputError(`'${file}' is not JSON: ${(e as Error).message.replace(/\n/g, '\\n')}`); // node quotes the text, newlines and all
  }
  if (r?.schema !== RESULTS_SCHEMA) throw new InputError(`'${file}' has schema '${String(r?.schema)}'; this mmatrix reads ${RESULTS_SCHEMA}`);
  const problem = resultsProblem(r);
  if (problem) throw new InputError(`'${file}' is not a valid ${RESULTS_SCHEMA}: ${problem}`);
  return r;
}

/** Kernels in version order (then by name): where they came from does not change the report. */
function byVersion(a: KernelResult, b: KernelResult): number {
  const [x, y] = [versionOf(a.release ?? ''), versionOf(b.release ?? '')];
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  return a.spec.localeCompare(b.spec);
}

/** One result set holding every kernel of `parts`, in version order; a kernel in two parts is refused. */
export function mergeResults(parts: Results[], runId: string): Results {
  const seen = new Map<string, string>();
  for (const p of parts) {
    for (const k of p.kernels) {
      const key = k.id || k.spec;
      if (seen.has(key)) throw new InputError(`kernel '${key}' is in both ${seen.get(key)} and ${p.runId}`);
      seen.set(key, p.runId);
    }
  }
  const times = (f: (r: Results) => string | null) =>
    parts
      .map(f)
      .filter((t): t is string => t !== null)
      .sort();
  return {
    schema: RESULTS_SCHEMA,
    runId,
    started: times((p) => p.started)[0] ?? new Date().toISOString(),
    finished: parts.every((p) => p.finished) ? times((p) => p.finished).at(-1)! : null,
    complete: parts.every((p) => p.complete),
    kernels: parts.flatMap((p) => p.kernels).sort(byVersion),
  };
}

/** The kernels shard `i` of `n` runs: every n-th from the i-th (1-based). */
export function shardOf<T>(items: T[], shard: { i: number; n: number }): T[] {
  return items.filter((_, k) => k % shard.n === shard.i - 1);
}

export function parseShard(text: string): { i: number; n: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  const i = Number(m?.[1]);
  const n = Number(m?.[2]);
  if (!m || n < 1 || i < 1 || i > n) throw new InputError(`bad shard '${text}': use i/n with 1 ≤ i ≤ n, e.g. 1/2`);
  return { i, n };
}

const STATUSES: readonly string[] = ['observed', 'skip', 'error', 'crash', 'timeout'] satisfies CaseResult['status'][];

function isJournalLine(v: unknown): v is { kernel: string } & CaseResult {
  const o = v as Record<string, unknown> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    !Array.isArray(o) &&
    typeof o.kernel === 'string' &&
    typeof o.id === 'string' &&
    typeof o.status === 'string' &&
    STATUSES.includes(o.status)
  );
}

/** Cases in the run folder's cases.jsonl that results.json does not hold yet (the runner
 * died between a case and the next save) added to their kernels. */
export function withJournal(r: Results, dir: string): Results {
  const file = join(dir, 'cases.jsonl');
  if (!existsSync(file)) return r;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let rec: { kernel: string } & CaseResult;
    try {
      rec = JSON.parse(line) as { kernel: string } & CaseResult;
    } catch {
      continue; // a line cut short by the crash that ended the runner
    }
    if (!isJournalLine(rec)) continue; // torn into something that parses, or not ours
    const { kernel, ...c } = rec;
    const k = r.kernels.find((x) => x.spec === kernel);
    if (k && !k.cases.some((x) => x.id === c.id && x.family === c.family)) k.cases.push(c);
  }
  return r;
}
