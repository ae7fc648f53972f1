// What the kernel said while a case ran: new /dev/kmsg records that look like trouble
// (BUG, Oops, WARNING, lockups, panics) and the taint flags. Opened non-blocking and drained
// once; after that each case's since() reads what came after the last case's, so each case sees
// only its own messages and taint bits, at one kmsg and one taint read a case.
import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { mm } from './native.js';
import { reread } from './proc.js';
import { encodeConsoleAnnouncement } from './protocol.js';

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
  private taintSeen: number;

  constructor(
    private readonly readTaint = KernelWatch.taint,
    kmsg = '/dev/kmsg',
  ) {
    try {
      this.fd = openSync(kmsg, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      this.fd = -1; // not readable here (a host test): taint only
    }
    this.read(); // what was logged before: nobody's
    this.taintSeen = this.readTaint();
  }

  /** Every record logged since the last read: the addon reads them to EAGAIN in one call (in
   * node each drain ended in a thrown EAGAIN error, 0.8 ms of a case under TCG). */
  private read(): string[] {
    if (this.fd < 0) return [];
    // "<prio>,<seq>,<usec>,<flags>;<text>\n< continuation lines>"
    return mm.readRecords(this.fd).map((rec) => rec.slice(rec.indexOf(';') + 1).split('\n')[0]);
  }

  static taint(): number {
    try {
      return Number(reread('/proc/sys/kernel/tainted').trim()) || 0;
    } catch {
      return 0;
    }
  }

  /** Trouble logged since the last call (or the start), and the taint bits set since then. */
  since(): KernelEvents | null {
    const log = this.read().filter((l) => TROUBLE.test(l));
    const now = this.readTaint();
    const taint = now & ~this.taintSeen;
    this.taintSeen = now;
    return log.length || taint ? { taint, log } : null;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
  }
}

/** Writes a case's announcement into the kernel log (guest/protocol.ts, CONSOLE_ANNOUNCEMENT);
 * null where the console would not show it: /dev/kmsg not writable, its writes rate-limited
 * (printk.devkmsg other than on: the kernel drops all but ten lines in five seconds; the runner
 * boots with it on), or a console log level that hides KERN_ERR. */
export function consoleAnnouncer(
  kmsg = '/dev/kmsg',
  devkmsg = '/proc/sys/kernel/printk_devkmsg',
  printk = '/proc/sys/kernel/printk',
): ((id: string) => void) | null {
  try {
    if (readFileSync(devkmsg, 'utf8').trim() !== 'on') return null;
    if (Number(readFileSync(printk, 'utf8').trim().split(/\s+/)[0]) <= 3) return null;
    const fd = openSync(kmsg, 'w');
    return (id) => {
      writeSync(fd, encodeConsoleAnnouncement(id));
    };
  } catch {
    return null;
  }
}
