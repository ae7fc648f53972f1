// What the kernel said while a case ran: new /dev/kmsg records that look like trouble
// (BUG, Oops, WARNING, lockups, panics) and the taint flags. Opened non-blocking and
// drained before each case, so each case sees only its own messages.
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { reread } from './proc.js';

/** Kernel log lines that mean trouble; the runner uses the same to find where a console excerpt starts. */
export const TROUBLE = /sysrq: Trigger|BUG:|Oops|WARNING:|Kernel panic|soft lockup|hard LOCKUP|rcu_sched self-detected stall|general protection fault/;

export interface KernelEvents {
  /** Taint bits the case set: /proc/sys/kernel/tainted after it, less those set before (a
   * Debian guest boots tainted E, its modules' signatures stripped: images/modules.ts). */
  taint: number;
  log: string[]; // kmsg lines that look like trouble
}

export class KernelWatch {
  private fd = -1;
  private readonly buf = Buffer.alloc(8192);

  constructor() {
    try {
      this.fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      this.fd = -1; // not readable here (a host test): taint only
    }
    this.drain();
  }

  private read(): string[] {
    const lines: string[] = [];
    if (this.fd < 0) return lines;
    for (;;) {
      try {
        const n = readSync(this.fd, this.buf, 0, this.buf.length, null);
        if (n <= 0) break;
        // "<prio>,<seq>,<usec>,<flags>;<text>\n< continuation lines>"
        const rec = this.buf.toString('utf8', 0, n);
        lines.push(rec.slice(rec.indexOf(';') + 1).split('\n')[0]);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records were overwritten: go on from the next one
        break; // EAGAIN: nothing more
      }
    }
    return lines;
  }

  /** Forget everything logged so far. */
  drain(): void {
    this.read();
  }

  static taint(): number {
    try {
      return Number(reread('/proc/sys/kernel/tainted').trim()) || 0;
    } catch {
      return 0;
    }
  }

  /** Trouble logged since the last drain, and the taint bits set since `before`. */
  since(before: number): KernelEvents | null {
    const log = this.read().filter((l) => TROUBLE.test(l));
    const taint = KernelWatch.taint() & ~before;
    return log.length || taint ? { taint, log } : null;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
  }
}
