// The kselftest family: the kernel's own mm selftests, built from a tree (images/selftests.ts),
// pushed into the guest and run one invocation at a time, each with the huge page pool its
// tree's run_vmtests.sh gives it and a timeout. Each point of a test's KTAP becomes a row
// `kselftest.mm.<test>.<subtest>`; the test's exit code is its own row `kselftest.mm.<test>`.
// A test that takes the guest down is marked crash (or timeout) like a suite's case, and the
// family goes on after it in a fresh guest.
import { InfraError } from '../common/errors.js';
import type { SelftestBuild } from '../images/selftests.js';
import type { CaseResult, SelftestRecord } from '../reports/results.js';
import { type Invocation, invocationsFor, selftestRowPrefix } from '../suites/kselftests.js';

type Run = Invocation & { binary: string };

import type { FamilyContext, FamilyOutcome } from './family.js';
import { consoleExcerpt, type GuestHandle } from './guest.js';
import { exitResult, parseKtap } from './ktap.js';

export const GUEST_SELFTESTS = '/tmp/kselftest';

/** The selftests a kernel runs: the build, and whether it is the kernel's own tree. */
export interface SelftestSet {
  build: SelftestBuild;
  own: boolean; // false: --from-tree's, in rows that say which tree
  tar: Buffer; // the binaries, as one tar stream
}

/** The shell command that runs one invocation in the guest: the pool it needs, then the test
 * under busybox's timeout, its output and errors in one stream. */
export function guestCommand(inv: Run, baseline: number): string {
  const pool = inv.hugepages === undefined ? '' : `echo ${inv.hugepages} > /proc/sys/vm/nr_hugepages; `;
  const restore = inv.hugepages === undefined ? '' : `; echo ${baseline} > /proc/sys/vm/nr_hugepages`;
  const args = inv.args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return `cd ${GUEST_SELFTESTS} && ${pool}timeout -s KILL ${inv.timeoutS} ./${inv.binary}${args ? ` ${args}` : ''} 2>&1; rc=$?${restore}; exit $rc`;
}

/** The rows one invocation's output and exit code give. Pure, for tests. */
export function rowsOf(prefix: string, inv: Run, tree: string, command: string, output: string, code: number | null, durationMs: number): CaseResult[] {
  const killed = code === 137 || code === null;
  const parsed = parseKtap(output);
  const base = `${prefix}.${inv.name}`;
  const rec = (subtest: string | null, result: SelftestRecord['result'], detail?: string): SelftestRecord => ({
    test: inv.name,
    subtest,
    result,
    tree,
    command,
    ...(subtest === null ? { exit: killed ? null : code } : {}),
    ...(detail ? { detail } : {}),
  });
  const row = (id: string, r: SelftestRecord, ms?: number): CaseResult =>
    r.result === 'SKIP'
      ? { id, family: 'kselftest', status: 'skip', reason: r.detail ?? 'skipped', selftest: r }
      : { id, family: 'kselftest', status: 'observed', selftest: r, ...(ms === undefined ? {} : { durationMs: ms }) };
  const rows = parsed.subtests.map((s) => row(`${base}.${s.name}`, rec(s.name, s.result, s.detail)));
  const tail = output.trimEnd().split('\n').slice(-8).join('\n');
  if (killed) {
    rows.push({
      id: base,
      family: 'kselftest',
      status: 'timeout',
      reason: `hung test: killed after its timeout of ${inv.timeoutS} s; the kernel still answers SSH`,
      selftest: rec(null, 'FAIL', tail),
      durationMs,
    });
    return rows;
  }
  const short = parsed.planned !== null && parsed.subtests.length < parsed.planned;
  const result = exitResult(code);
  const why = short ? `planned ${parsed.planned} results, printed ${parsed.subtests.length}\n${tail}` : result === 'PASS' ? '' : tail;
  rows.push(row(base, rec(null, short && result === 'PASS' ? 'FAIL' : result, why), durationMs));
  return rows;
}

const notBuilt = (prefix: string, inv: Run, set: SelftestSet): CaseResult => ({
  id: `${prefix}.${inv.name}`,
  family: 'kselftest',
  status: 'skip',
  reason: `not built from ${set.build.tree}: ${inv.binaries.map((b) => set.build.failed[b]).find(Boolean) ?? 'not asked for'}`,
});

async function push(guest: GuestHandle, set: SelftestSet): Promise<void> {
  const r = await guest.exec(`mkdir -p ${GUEST_SELFTESTS} && tar -x -C ${GUEST_SELFTESTS}`, { stdin: set.tar, timeoutMs: 60_000 });
  if (r.code !== 0) throw new InfraError('push', `unpacking the selftests failed: ${r.stderr.trim()}`);
}

export interface SelftestContext extends FamilyContext {
  baselineHugepages: number; // the pool the guest booted with, restored after each test
  tests: string[]; // only these invocations (by name or binary); empty for all
}

/** The rows' id prefix of a set: kselftest.mm, or kselftest.mm@<version> for another tree's tests. */
export const rowPrefixOf = (set: SelftestSet): string => selftestRowPrefix(set.own ? null : set.build.version);

export async function runSelftests(set: SelftestSet, ctx: SelftestContext): Promise<FamilyOutcome> {
  const prefix = rowPrefixOf(set);
  const invocations = invocationsFor(set.build.version, ctx.tests, set.build.built);
  const done = new Set<string>();
  const cases: CaseResult[] = [];
  let guest = ctx.guest;
  let log = '';
  const keep = (c: CaseResult) => {
    cases.push(c);
    ctx.onCase(c);
  };
  ctx.onPlan?.(invocations.length);
  await push(guest, set);
  // A resumed run goes on after the last test that finished.
  const afterTest = ctx.after ? invocations.findIndex((i) => ctx.after === `${prefix}.${i.name}` || ctx.after?.startsWith(`${prefix}.${i.name}.`)) : -1;
  for (const inv of invocations.slice(afterTest + 1)) {
    if (done.has(inv.name)) continue;
    done.add(inv.name);
    if (!set.build.built.includes(inv.binary)) {
      keep(notBuilt(prefix, inv, set));
      continue;
    }
    const command = guestCommand(inv, ctx.baselineHugepages);
    const t0 = Date.now();
    let output = '';
    let code: number | null = null;
    let broke: 'crash' | 'hung kernel' | null = null;
    try {
      const r = await guest.exec(command, { timeoutMs: (inv.timeoutS + 30) * 1000 });
      output = `${r.stdout}${r.stderr}`;
      code = r.code;
    } catch (e) {
      if (!(e instanceof InfraError)) throw e;
      output = e.detail ?? '';
      broke = guest.alive() && e.phase === 'run' ? 'hung kernel' : 'crash';
    }
    log += `$ ${command}\n${output}${output.endsWith('\n') ? '' : '\n'}# exit ${code}\n`;
    const ms = Date.now() - t0;
    if (!broke) {
      for (const c of rowsOf(prefix, inv, set.build.tree, command, output, code, ms)) keep(c);
      continue;
    }
    keep({
      id: `${prefix}.${inv.name}`,
      family: 'kselftest',
      status: broke === 'crash' ? 'crash' : 'timeout',
      reason: broke === 'crash' ? 'the guest died during the test' : `hung kernel: no exit after ${inv.timeoutS + 30} s, and the guest no longer answers SSH`,
      console: consoleExcerpt(ctx.consoleLog()),
      durationMs: ms,
    });
    ctx.log(`kselftest: ${inv.name}: ${broke}; booting a fresh guest to go on`);
    guest = await ctx.reboot();
    await push(guest, set);
  }
  return { cases, tap: log, stderr: '', guest };
}
