// Typed access to the guest addon (guest/addon/mm.c).
import { createRequire } from 'node:module';
import type { Content, UffdFacts } from './protocol.js';

export type Addr = bigint;
export type Sys = { ret: number; errno?: undefined } | { errno: string; ret?: undefined };
export type Mapped = { addr: Addr; errno?: undefined } | { errno: string; addr?: undefined };
export interface Fault {
  signal?: 'SIGBUS' | 'SIGSEGV' | 'died';
  si_code?: number;
  offset?: number;
}

/** What the addon's touch counts: the protocol's userfaultfd facts. */
/** The facts, plus the address the first fault message reported (0: none), which a case turns into an offset. */
export type UffdCounts = Omit<UffdFacts, 'faultOffset'> & { firstAddr: number };

export interface Native {
  mmap(addr: Addr | number, len: number, prot: number, flags: number, fd: number, off: number): Mapped;
  munmap(addr: Addr, len: number): Sys;
  madvise(addr: Addr, len: number, advice: number): Sys;
  mlock(addr: Addr, len: number): Sys;
  mprotect(addr: Addr, len: number, prot: number): Sys;
  /** mseal(2) of the range (flags 0); ENOSYS before 6.10. */
  mseal(addr: Addr, len: number): Sys;
  /** process_madvise(2) on this process through its own pidfd; ret is the bytes advised. */
  processMadvise(addr: Addr, len: number, advice: number): Sys;
  /** fcntl(fd, F_ADD_SEALS, seals) */
  addSeals(fd: number, seals: number): Sys;
  mremap(addr: Addr, oldLen: number, newLen: number, flags: number, newAddr: Addr | number): Mapped;
  fallocate(fd: number, mode: number, off: number, len: number): Sys;
  memfdCreate(name: string, flags: number): Sys;
  ftruncate(fd: number, len: number): Sys;
  mincore(addr: Addr, len: number): { resident: number; pages: number; errno?: string };
  /** The text of the /proc or sysfs file open at fd, read from offset 0 (throws its errno's name). */
  preadText(fd: number): string;
  /** Every record of a non-blocking /dev/kmsg fd, read until EAGAIN. */
  readRecords(fd: number): string[];
  /** The whole text of the /proc file open at fd, from its start to EOF (throws its errno's name). */
  readAll(fd: number): string;
  pagemap(addr: Addr, len: number): { present: number; swapped: number; anon: number; pages: number; errno?: string };
  fill(addr: Addr, len: number, seed: number): { ok: boolean } & Fault;
  /** One byte of each 4 KiB page read (0), written (1) or read then written (2); ns: the loop's time. */
  touch(addr: Addr, len: number, mode: 0 | 1 | 2): { ns: number; ok: boolean } & Fault;
  /** Classify each 4 KiB unit: the pattern of `seed`, the file's of `fileSeed` (0: none), zero,
   * other; `first` is the mapping offset `addr` stands at (default 0). */
  scan(addr: Addr, len: number, seed: number, first?: number, fileSeed?: number): Content;
  /** Fork a child that writes the pattern over the range and then waits for reap(). */
  forkFill(addr: Addr, len: number, seed: number): ({ pid: number; hold: number; ok: boolean; errno?: undefined } & Fault) | { errno: string; pid?: undefined };
  /** Fork a child that does `step` (K.STEP_*: nothing, or mseal and an operation on the sealed
   * range) and reads the range back as scan() does. sealErrno: mseal failed; errno: the operation did. */
  childProbe(
    addr: Addr,
    len: number,
    step: number,
    seed: number,
    first: number,
    fileSeed: number,
    dest: Addr | number,
  ): Content & Fault & { sealErrno?: string; errno?: string };
  /** A userfaultfd after UFFDIO_API with `features`: what the kernel offers and which ioctls. */
  uffdOpen(features: number): { fd: number; features: number; ioctls: bigint; errno?: undefined } | { errno: string; fd?: undefined };
  /** UFFDIO_REGISTER; the ioctls the range is granted. */
  uffdRegister(fd: number, addr: Addr, len: number, mode: number): { ioctls: bigint; errno?: undefined } | { errno: string; ioctls?: undefined };
  /** Read every 4 KiB unit while a handler thread resolves faults by `granule` (missing: UFFDIO_COPY
   * of the pattern of `seed`; minor: UFFDIO_CONTINUE); counts the faults and events by kind. */
  uffdTouch(
    fd: number,
    addr: Addr,
    len: number,
    granule: number,
    seed: number,
    first: number,
    fileSeed: number,
    write: 0 | 1,
  ): (Content & UffdCounts) | { errno: string };
  /** Read the byte at addr+at while a handler serves [addr, addr+len): the faults and the first one's address. */
  uffdPoke(fd: number, addr: Addr, len: number, at: number, granule: number, seed: number): UffdCounts | { errno: string };
  /** One resolving ioctl (UFFD_CALL): COPY and MOVE take src; WRITEPROTECT's mode 1 protects. The bytes done. */
  uffdCall(fd: number, kind: number, dst: Addr, src: Addr | 0, len: number, mode: number): Sys;
  /** A handler thread that resolves faults as uffdTouch does and counts events, while the caller
   * makes one operation; uffdStop ends it and returns the counts. */
  uffdStart(fd: number, addr: Addr, len: number, granule: number, seed: number): { handle: bigint; errno?: undefined } | { errno: string; handle?: undefined };
  uffdStop(handle: bigint): UffdCounts;
  /** Let a forkFill child exit; ret is its wait status. */
  reap(pid: number, hold: number): Sys;
  constants: Record<string, number>;
}

const require = createRequire(import.meta.url);
const ADDON_PATHS = ['../mm.node', '../../guest/addon/build/Release/mm.node'];

function load(): Native {
  for (const p of ADDON_PATHS) {
    try {
      return require(p) as Native;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
  }
  throw new Error('guest addon mm.node not found; build it with `make addon`');
}

export const mm: Native = load();
export const K = mm.constants;
