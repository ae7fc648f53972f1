// One suite family in a guest (a request to the guest's node process), surviving the cases
// that break it. The guest announces each case on the serial console before running it, and
// each finished case is handed on as it arrives (the guest writes them in batches). When the
// stream stops short — the kernel panicked and QEMU exited, the connection dropped, the guest's
// node process died, or nothing came for the case timeout — the case the console announced
// last is the culprit, unless its point arrived: it is marked crash, error or timeout with the
// console's last lines, a fresh guest is booted, and the family resumes after the last case
// that arrived, without the culprit (the cases between ran, but their points went down with the
// guest). A guest whose console cannot carry announcements flushes a `# case <id>` comment
// before each case instead, and that names the culprit.

import { InfraError } from '../common/errors.js';
import { lastConsoleAnnouncement, type Request } from '../guest/protocol.js';
import type { CaseResult } from '../reports/results.js';
import { type Family, TEST_FAMILIES } from '../suites/families.js';
import { consoleExcerpt, consoleFrom, consoleSize, consoleTail, type GuestHandle } from './guest.js';
import { TapStream } from './tap.js';

export interface FamilyContext {
  guest: GuestHandle;
  accel: string; // the guest's accelerator: it decides how the guest announces its cases
  after: string | null; // the last case a resumed run has (the kselftest family starts after it)
  recorded: string[]; // every case of the family a resumed run has: a guest family leaves them out
  reboot(): Promise<GuestHandle>; // a fresh guest of the same kernel, bundle pushed
  consoleLog(): string; // the current guest's console file
  patterns: string[];
  caseTimeoutMs: number;
  suiteTimeoutMs: number;
  onCase(c: CaseResult): void; // each case as it finishes, culprits included
  onPlan?(count: number): void; // how many cases the guest is about to run
  log(line: string): void;
}

export interface FamilyOutcome {
  cases: CaseResult[];
  tap: string; // every attempt's stream, in order
  stderr: string;
  guest: GuestHandle; // the guest to go on with (a fresh one after a crash)
}

const MAX_RESTARTS = 5;

/** Whether a guest announces its cases on the serial console and batches its TAP: under TCG,
 * where a write to the serial port is a call inside QEMU and each SSH packet a context switch
 * that empties QEMU's TLB (docs/figures.md); not under KVM, where each byte to the serial port
 * exits to QEMU and an SSH packet is cheap. */
export const consoleAnnounces = (accel: string): boolean => accel === 'tcg';

/** The guest's request for a family: its cases after `after`, without those in `exclude`. */
export function familyRequest(family: Family, patterns: string[], after: string | null, accel: string, exclude: string[] = []): Request {
  const test = (TEST_FAMILIES as readonly string[]).includes(family);
  return {
    kind: 'family',
    family,
    ...(patterns.length ? { patterns } : {}),
    ...(after ? { after } : {}),
    ...(exclude.length ? { exclude } : {}),
    ...(consoleAnnounces(accel) ? { console: true } : {}),
    ...(test ? { test } : {}),
  };
}

export async function runFamily(family: Family, ctx: FamilyContext): Promise<FamilyOutcome> {
  const cases: CaseResult[] = [];
  let tap = '';
  let stderr = '';
  let guest = ctx.guest;
  // The request's cases: after `after`, leaving out those already recorded and the culprits.
  let after: string | null = null;
  const culprits: string[] = [...ctx.recorded];
  for (let restarts = 0; ; restarts++) {
    const stream = new TapStream(
      (c) => {
        const withFamily = { ...c, family };
        cases.push(withFamily);
        ctx.onCase(withFamily);
      },
      (n) => ctx.onPlan?.(n + cases.length),
    );
    const consoleAt = consoleSize(ctx.consoleLog());
    const askedAt = Date.now();
    const r = await guest.ask(familyRequest(family, ctx.patterns, after, ctx.accel, culprits), {
      timeoutMs: ctx.suiteTimeoutMs,
      idleMs: ctx.caseTimeoutMs,
      onData: (chunk) => stream.write(chunk),
    });
    const parsed = stream.end();
    tap += r.stdout;
    stderr += r.stderr;
    // A panic reboots, and -no-reboot turns that into QEMU exiting: give it a moment (its console
    // is whole by then).
    for (let i = 0; i < 20 && guest.alive() && r.ended === 'lost'; i++) await new Promise((res) => setTimeout(res, 100));
    const received = new Set(stream.cases.map((c) => c.id));
    const announced = lastConsoleAnnouncement(consoleFrom(ctx.consoleLog(), consoleAt));
    const culprit = announced && !received.has(announced) ? announced : stream.started;
    if (r.ended === 'exit' && !culprit) {
      if (parsed.problems.length) throw new InfraError('collect', `${family}: malformed TAP: ${parsed.problems.join('; ')}`, r.stderr.trim());
      return { cases, tap, stderr, guest };
    }
    if (!culprit) throw new InfraError('run', `${family}: the guest stopped between cases (${r.ended})`, consoleTail(ctx.consoleLog()));
    let status: 'crash' | 'timeout' | 'error';
    let reason: string;
    let kernelLog = '';
    if (r.ended === 'lost' || !guest.alive()) {
      status = 'crash';
      reason = guest.alive() ? 'the guest dropped the connection during the case' : 'the guest died during the case';
    } else if (r.ended === 'exit') {
      // The guest's node process ended in the middle of a case while the kernel lives on: a
      // signal (a fault outside the addon's guards, the OOM killer) or an exit of its own. The
      // kernel's log, which the console does not show at its quiet level, may say which.
      status = 'error';
      reason = `the guest's node process ${r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`} during the case`;
      kernelLog = await guest.exec('dmesg | tail -n 20', { timeoutMs: 5000 }).then(
        (x) => x.stdout.trim(),
        () => '',
      );
    } else {
      status = 'timeout';
      const answers = await guest.exec('true', { timeoutMs: 5000 }).then(
        () => true,
        () => false,
      );
      const limit = r.ended === 'idle' ? `${ctx.caseTimeoutMs / 1000} s without output` : `the suite timeout of ${ctx.suiteTimeoutMs / 1000} s`;
      reason = answers
        ? `hung test: no result after ${limit}; the kernel still answers SSH`
        : `hung kernel: no result after ${limit}, and the guest no longer answers SSH`;
    }
    // How long the case ran as the host saw it: from its announcement in the stream, or else the
    // stream's last output before it, to the stream's end.
    const durationMs = Date.now() - (stream.started === culprit ? stream.startedAt : stream.lastAt || askedAt);
    const excerpt = [consoleExcerpt(ctx.consoleLog()), kernelLog && `dmesg:\n${kernelLog}`].filter(Boolean).join('\n');
    const culpritCase: CaseResult = { id: culprit, family, status, reason, console: excerpt, durationMs };
    cases.push(culpritCase);
    ctx.onCase(culpritCase);
    ctx.log(`${family}: ${culprit}: ${status}: ${reason}`);
    if (restarts >= MAX_RESTARTS) throw new InfraError('run', `${family}: ${restarts + 1} cases took the guest down; giving up`);
    ctx.log(`${family}: booting a fresh guest to go on after ${culprit}`);
    guest = await ctx.reboot();
    after = stream.cases.at(-1)?.id ?? after;
    culprits.push(culprit);
  }
}
