// `mmatrix bisect`: git bisect, driven in the cache's copy of a tree (never the user's), each
// revision judged by building it and running the named cases (the step is injected: the real
// one in bisectstep.ts, fakes in the tests). The record is saved after every revision, so an
// interrupted bisection resumes: the same command replays what it knows into git bisect and
// tests only what is left.
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { withLock } from '../common/cache.js';
import { InputError } from '../common/errors.js';
import { commitOf } from '../images/srcbuild.js';
import { type BisectRecord, type BisectStep, type Cells, changedCells, classify, stepsFor } from '../reports/bisect.js';

export interface StepOutcome {
  cells: Cells | null; // null: the kernel did not build or boot
  failure: string | null;
  compiled: boolean;
  buildSeconds: number;
  runSeconds: number;
  run: string | null;
}

/** Build and run one revision; `name` names its run folder. */
export type Evaluate = (commit: string, name: string) => Promise<StepOutcome>;

export interface BisectOptions {
  tree: string; // a git tree
  good: string; // revisions as the user names them
  bad: string;
  cases: string[];
  patches: string | null;
  dir: string; // the bisection's folder: bisect.json, bisect.log, git-bisect.log, steps/
  repo: string; // where git bisect runs: a --shared clone of the tree, made if missing
  evaluate: Evaluate;
  reproduce: (commit: string) => string[];
  log: (line: string) => void;
  restart?: boolean;
}

const git = (repo: string, ...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** git bisect's own words after a mark: the first bad commit, only skipped ones left, or go on. */
export function bisectState(out: string): { kind: 'found'; commit: string } | { kind: 'unresolved'; candidates: string[] } | { kind: 'next' } {
  const found = /^([0-9a-f]{40}) is the first bad commit/m.exec(out);
  if (found) return { kind: 'found', commit: found[1] };
  if (/only 'skip'ped commits left to test/.test(out)) {
    const list = out.slice(out.indexOf('could be any of'));
    return { kind: 'unresolved', candidates: [...list.matchAll(/^([0-9a-f]{40})\b/gm)].map((m) => m[1]) };
  }
  return { kind: 'next' };
}

function mark(repo: string, verdict: string, commit: string): string {
  const how = verdict === 'good' || verdict === 'bad' ? verdict : 'skip';
  const r = spawnSync('git', ['-C', repo, 'bisect', how, commit], { encoding: 'utf8' });
  if (r.status !== 0 && !/only 'skip'ped commits left/.test(r.stdout)) throw new Error(`git bisect ${how} ${commit} failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Check the tree and the range before anything is built: the two full hashes and the candidates. */
export async function checkRange(tree: string, goodRev: string, badRev: string): Promise<{ good: string; bad: string; revisions: number }> {
  if (!existsSync(join(tree, '.git'))) throw new InputError(`${tree} is not a git tree (bisect walks a tree's history)`);
  const [good, bad] = [await commitOf(tree, goodRev), await commitOf(tree, badRev)];
  if (good === bad) throw new InputError(`--good and --bad name the same commit ${good.slice(0, 12)}`);
  if (spawnSync('git', ['-C', tree, 'merge-base', '--is-ancestor', good, bad]).status !== 0)
    throw new InputError(`--good ${goodRev} is not an ancestor of --bad ${badRev}`);
  return { good, bad, revisions: Number(git(tree, 'rev-list', '--count', `${good}..${bad}`)) };
}

function load(path: string): BisectRecord | null {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as BisectRecord) : null;
}

function save(path: string, r: BisectRecord): void {
  writeFileSync(`${path}.tmp`, `${JSON.stringify(r, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

const short = (c: string) => c.slice(0, 12);

/** Run (or resume, or just report) the bisection of o.cases over good..bad. */
export function bisect(o: BisectOptions): Promise<BisectRecord> {
  mkdirSync(o.dir, { recursive: true });
  return withLock(
    join(o.dir, 'bisect'),
    () => bisectLocked(o),
    () => o.log(`waiting for another mmatrix bisecting in ${o.dir}`),
  );
}

async function bisectLocked(o: BisectOptions): Promise<BisectRecord> {
  const range = await checkRange(o.tree, o.good, o.bad);
  const path = join(o.dir, 'bisect.json');
  const logFile = join(o.dir, 'bisect.log');
  const say = (line: string) => {
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    o.log(line);
  };
  const known = o.restart ? null : load(path);
  const r: BisectRecord = known ?? {
    schema: 1,
    tree: o.tree,
    ...range,
    goodRev: o.good,
    badRev: o.bad,
    cases: o.cases,
    patches: o.patches,
    started: new Date().toISOString(),
    finished: null,
    steps: [],
    end: null,
  };
  if (r.end) return r; // done before: the record answers
  if (known) say(`resuming: ${known.steps.length} revision(s) already tested`);
  if (!existsSync(join(o.repo, '.git'))) {
    mkdirSync(join(o.repo, '..'), { recursive: true });
    execFileSync('git', ['clone', '-q', '--shared', '--no-checkout', o.tree, o.repo]);
  }
  const subject = (c: string) => git(o.repo, 'log', '-1', '--format=%s', c);
  const estimate = stepsFor(r.revisions);
  const test = async (commit: string, role: BisectStep['role'], name: string, ends: [Cells, Cells] | null): Promise<BisectStep> => {
    const out = await o.evaluate(commit, name);
    const verdict = ends ? classify(out.cells, ...ends) : out.cells ? role : 'skip';
    const step: BisectStep = { commit, subject: subject(commit), role, verdict, ...out } as BisectStep;
    r.steps.push(step);
    save(path, r);
    const build = out.compiled ? `built in ${out.buildSeconds.toFixed(0)} s` : 'kernel cached';
    const cells = out.cells ? Object.values(out.cells).join('; ') : out.failure;
    say(`${name}: ${short(commit)} ${step.subject} — ${build}, ran in ${out.runSeconds.toFixed(0)} s: ${verdict} (${cells})`);
    return step;
  };
  // The two ends first: their cells are what every step is judged against.
  for (const role of ['good', 'bad'] as const) {
    if (r.steps.some((s) => s.role === role)) continue;
    const s = await test(r[role], role, `${role} end`, null);
    if (!s.cells) throw new InputError(`the ${role} revision ${o[role]} gives no cells (${s.failure}): nothing to bisect against`);
  }
  const cellsOf = (role: 'good' | 'bad') => r.steps.find((s) => s.role === role)?.cells as Cells;
  const ends: [Cells, Cells] = [cellsOf('good'), cellsOf('bad')];
  const changed = changedCells(...ends);
  if (changed.length === 0) throw new InputError(`the cells are the same at ${o.good} and ${o.bad} (${Object.values(ends[0]).join('; ')}): nothing to bisect`);
  say(`bisecting ${r.revisions} commit(s), about ${estimate} step(s): ${changed.map((c) => `${c.id}: ${c.from} → ${c.to}`).join('; ')}`);

  spawnSync('git', ['-C', o.repo, 'bisect', 'reset'], { stdio: 'ignore' });
  let out = git(o.repo, 'bisect', 'start', '--no-checkout', r.bad, r.good);
  for (const s of r.steps) if (s.role === 'step') out = mark(o.repo, s.verdict, s.commit);
  for (let state = bisectState(out); ; state = bisectState(out)) {
    if (state.kind === 'found') {
      r.end = { kind: 'found', commit: state.commit, subject: subject(state.commit), before: ends[0], after: ends[1], reproduce: o.reproduce(state.commit) };
      break;
    }
    if (state.kind === 'unresolved') {
      const odd = r.steps.filter((s) => s.verdict === 'neither').length;
      r.end = {
        kind: 'unresolved',
        candidates: state.candidates.map((c) => `${short(c)} ${subject(c)}`),
        why: `the change lies among commits that did not build or boot${odd ? `, or whose cells match neither end (${odd})` : ''}`,
      };
      break;
    }
    const next = git(o.repo, 'rev-parse', 'BISECT_HEAD');
    const n = r.steps.filter((s) => s.role === 'step').length + 1;
    const s = await test(next, 'step', `step ${n} of about ${estimate}`, ends);
    out = mark(o.repo, s.verdict, next);
  }
  writeFileSync(join(o.dir, 'git-bisect.log'), git(o.repo, 'bisect', 'log'));
  spawnSync('git', ['-C', o.repo, 'bisect', 'reset'], { stdio: 'ignore' });
  r.finished = new Date().toISOString();
  save(path, r);
  return r;
}
