// A run without QEMU: a Host whose guests answer from a script, through the real TAP emitter,
// so the scheduler, the session, crash and hang recovery and the recorder run in milliseconds.
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InfraError } from '../../common/errors.js';
import { CONSOLE_ANNOUNCEMENT, encodeAnnouncement, type GuestFacts, type Pools, type Request } from '../../guest/protocol.js';
import { Tap } from '../../guest/tap.js';
import type { Kernel } from '../../images/kernel.js';
import { Expectations } from '../../reports/expectations.js';
import type { CaseResult, KernelResult, Results } from '../../reports/results.js';
import type { GuestHandle } from '../../runner/guest.js';
import type { SelftestSet } from '../../runner/kselftest.js';
import { Recorder } from '../../runner/recorder.js';
import type { RunOptions } from '../../runner/run.js';
import type { Host } from '../../runner/session.js';
import type { ExecOptions, ExecResult } from '../../runner/ssh.js';
import type { Family } from '../../suites/families.js';
import { observation, resultsOf } from '../helpers/results.js';

/** How one request ends: the cases that answer (in order), then how the stream stops. */
export interface Answer {
  cases: string[];
  /** A case announced and never answered, then the request ends `ended`: a crash or a hang.
   * `unsent`: the last cases of `cases` that ran, but whose points the guest still held. */
  dies?: { during: string; ended: 'lost' | 'idle' | 'exit'; guestDies: boolean; answersSsh?: boolean; signal?: string; unsent?: number };
}

export type Script = (family: string, after: string | undefined, guest: FakeGuest) => Answer;

/** What a selftest binary prints and exits with in a fake guest; `dies`: it takes the guest down. */
export type SelftestScript = Record<string, { out: string; code: number } | 'dies'>;

const facts = (release: string): GuestFacts => ({
  release,
  hugePageKb: 2048,
  hugepagesObtained: 64,
  gigantic: 0,
  thp: 'madvise',
  cmdline: 'quiet',
  pageSize: 4096,
});

export class FakeGuest implements GuestHandle {
  readonly bootSeconds = 1;
  readonly bannerSeconds = 0.9;
  readonly requests: Request[] = [];
  closed = false;
  private up = true;
  private answersSsh = true;

  constructor(
    readonly kernel: Kernel,
    readonly n: number, // the host's n-th boot
    private readonly script: Script,
    private pool: Pools = { '2048kB': { free: 64, rsvd: 0 } },
    private readonly selftests: SelftestScript = {},
    /** Where the guest announces its cases when the request asks, as a real one does on its
     * serial console (its TAP then goes in batches); '' for a guest whose console cannot, which
     * flushes its TAP announcement before each case instead. */
    private readonly consoleLog = '',
  ) {}

  readonly commands: string[] = [];
  dmesg = '[   9.1] node[201]: segfault at 7f00dead0000 ip 00007f00 sp 00007ffd error 6\n';

  facts = async () => facts(this.kernel.release);
  pools = async () => this.pool;
  leak = (p: Pools) => (this.pool = p);
  alive = () => this.up;
  close = async () => {
    this.closed = true;
    this.up = false;
  };

  async exec(cmd: string): Promise<ExecResult> {
    if (!this.answersSsh) throw new Error(`'${cmd}' did not finish`);
    this.commands.push(cmd);
    const binary = / \.\/(\S+)/.exec(cmd)?.[1];
    const answer = binary ? this.selftests[binary] : undefined;
    if (answer === 'dies') {
      this.up = false;
      throw new InfraError('ssh', `the guest went away during '${cmd}'`);
    }
    if (answer) return { code: answer.code, signal: null, stdout: answer.out, stderr: '', ended: 'exit' };
    if (cmd.startsWith('dmesg')) return { code: 0, signal: null, stdout: this.dmesg, stderr: '', ended: 'exit' };
    return { code: 0, signal: null, stdout: '', stderr: '', ended: 'exit' };
  }

  async ask(request: Request, opts: ExecOptions): Promise<ExecResult> {
    this.requests.push(request);
    await new Promise((r) => setImmediate(r)); // another guest may go on meanwhile
    if (request.kind !== 'family') throw new Error('pools and facts have their own methods');
    const answer = this.script(request.family, request.after, this);
    // As the guest does (suites/main.ts): the request's excluded cases are not run.
    const a = { ...answer, cases: answer.cases.filter((id) => !request.exclude?.includes(id)) };
    let out = '';
    const tap = new Tap((s) => {
      out += s;
      opts.onData?.(s);
    });
    const onConsole = request.console === true && this.consoleLog !== '';
    const announce = (id: string) => {
      if (onConsole) appendFileSync(this.consoleLog, `[    9.000000] ${CONSOLE_ANNOUNCEMENT}${id}\r\n`);
    };
    tap.plan(a.cases.length + (a.dies ? 1 : 0));
    const sent = a.cases.length - (a.dies?.unsent ?? 0);
    a.cases.forEach((id, i) => {
      if (i === sent) tap.flush(); // the points after are held when the guest dies
      announce(id);
      tap.comment(encodeAnnouncement(id));
      tap.point(true, id, observation(id, 'ok kept'));
    });
    if (a.dies) {
      if (sent === a.cases.length) tap.flush();
      announce(a.dies.during);
      if (!onConsole) {
        tap.comment(encodeAnnouncement(a.dies.during));
        tap.flush();
      }
      if (a.dies.guestDies) this.up = false;
      this.answersSsh = a.dies.answersSsh ?? true;
      return { code: null, signal: a.dies.signal ?? null, stdout: out, stderr: '', ended: a.dies.ended };
    }
    tap.flush();
    return { code: 0, signal: null, stdout: out, stderr: '', ended: 'exit' };
  }
}

export const fakeKernel = (spec: string): Kernel => ({
  spec,
  id: `k-${spec.replace(/\W/g, '-')}`,
  version: '1',
  release: `6.1.0-${spec.replace(/\W/g, '')}`,
  image: '/nonexistent',
  pvh: true,
  modulesDir: null,
  config: null,
});

export class FakeHost implements Host {
  readonly guests: FakeGuest[] = [];
  readonly boots = new Map<string, number>();
  prepared: string[] = [];

  constructor(
    private readonly script: Script,
    private readonly bootFails: (spec: string, n: number) => boolean = () => false,
    private readonly selftestScript: SelftestScript = {},
  ) {}

  fromTree = false; // the host also gives a second tree's selftests, as --from-tree does

  /** The kselftest family's builds: every binary the script answers for, from the kernel's own
   * fake tree, and from a second one when fromTree is set. */
  async selftests(): Promise<SelftestSet[]> {
    const built = Object.keys(this.selftestScript);
    const set = (own: boolean, version: string): SelftestSet => ({
      build: { dir: '/nonexistent', tree: `linux-source-${version}=fake`, version, subdir: 'mm', built, failed: {}, seconds: 0 },
      own,
      tar: Buffer.alloc(0),
    });
    return [set(true, '6.12'), ...(this.fromTree ? [set(false, '7.3')] : [])];
  }

  async prepare(spec: string): Promise<Kernel> {
    this.prepared.push(spec);
    return fakeKernel(spec);
  }

  /** Whether the guests' consoles can announce their cases (as real ones do), and the accelerator
   * their boots report. */
  consoleAnnounces = true;
  accel = 'tcg';

  async boot(kernel: Kernel, consoleLog: string): Promise<{ guest: GuestHandle; accel: string }> {
    const n = (this.boots.get(kernel.spec) ?? 0) + 1; // counted before the boot's wait: two boot at once
    this.boots.set(kernel.spec, n);
    await new Promise((r) => setImmediate(r));
    if (this.bootFails(kernel.spec, n)) {
      throw new InfraError('boot', 'guest did not answer SSH before the boot timeout');
    }
    const g = new FakeGuest(kernel, n, this.script, undefined, this.selftestScript, this.consoleAnnounces ? consoleLog : '');
    this.guests.push(g);
    return { guest: g, accel: this.accel };
  }

  async fingerprint(f: GuestFacts, k: Kernel, accel: string, pools: Pools) {
    const free = Object.fromEntries(Object.entries(pools).map(([s, p]) => [s, p.free]));
    return {
      release: f.release,
      kernelId: k.id,
      configHash: null,
      cmdline: f.cmdline,
      pools: free,
      pageSize: f.pageSize,
      accel,
      qemu: 'fake',
      node: process.version,
      suiteVersion: 'fake',
    };
  }
}

/** The run folder in memory: cases.jsonl as an array, saves counted (results.json alone, and with the reports). */
export class MemoryFolder {
  readonly journal: { kernel: string; id: string }[] = [];
  resultSaves = 0;
  saves = 0;
  private readonly root = mkdtempSync(join(tmpdir(), 'mm-fake-run-'));
  guestDir = (kernelId: string) => {
    const d = join(this.root, kernelId);
    mkdirSync(d, { recursive: true });
    return d;
  };
  appendCase = (kernel: string, c: CaseResult) => this.journal.push({ kernel, id: c.id });
  saveResults = (_r: Results) => {
    this.resultSaves += 1;
  };
  save = (_r: Results) => {
    this.saves += 1;
  };
}

export function fakeRun(kernels: string[], families: Family[], over: Partial<RunOptions> = {}, results: Results = resultsOf([])) {
  const lines: string[] = [];
  const done: KernelResult[] = [];
  const options: RunOptions = {
    kernels,
    families,
    cases: [],
    pool1g: 0,
    jobs: 1,
    accel: 'tcg',
    hugepages: 64,
    memoryMb: 1536,
    bootTimeoutMs: 1000,
    suiteTimeoutMs: 60_000,
    caseTimeoutMs: 50,
    refresh: false,
    expectations: new Expectations({ schema: 'mmatrix.expectations/1', expectations: [] }),
    log: (l) => lines.push(l),
    onKernelDone: (k) => done.push(k),
    ...over,
  };
  const folder = new MemoryFolder();
  return { options, folder, recorder: new Recorder(results, folder, options.expectations), lines, done, results };
}
