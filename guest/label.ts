// The short matrix-cell label derived from an observation's facts. Pure.
import type { Content } from './protocol.js';

export function contentWord(c: Content): string {
  const total = c.pattern + c.file + c.zero + c.other + c.faulted;
  if (total === 0) return 'empty';
  if (c.faulted === total) return c.signal ?? 'fault';
  if (c.pattern === total) return 'kept';
  if (c.file === total) return 'file';
  if (c.zero === total) return 'zeroed';
  return 'mixed';
}

/** What `whole` counted outside `part` (a range inside it), keeping the signal if faults remain. */
export function minusContent(whole: Content, part: Content): Content {
  const faulted = whole.faulted - part.faulted;
  return {
    pattern: whole.pattern - part.pattern,
    file: whole.file - part.file,
    zero: whole.zero - part.zero,
    other: whole.other - part.other,
    faulted,
    ...(faulted && whole.signal ? { signal: whole.signal } : {}),
  };
}

export interface LabelFacts {
  errno: string | null;
  content: Content | null;
  freed: boolean | null;
  outside?: string | null; // a sub-range's surroundings; named only when not kept
  presence?: string; // populate: present / partial / absent
  allocated?: boolean | null;
  cow?: boolean | null;
  moved?: boolean | null;
  tail?: string | null;
  old?: string | null;
  fault?: string | null;
  thp?: 'pmd' | 'split' | null; // THP cases: PMDs map the whole range after the op, or the op split them
  contentAfterError?: boolean; // name the content after an errno too (a call that fails late)
  alias?: string | null; // what a private mapping of the same file reads afterwards
  paged?: 'swapped' | 'unmapped' | null; // paging cases: the range went to swap, or only left the page tables
}

/** A paging case's word: `swapped` when swap entries replaced at least half the range's units,
 * `unmapped` when at least half of what was present is no longer mapped (and not swapped). */
export function pagedWord(presentBefore: number, presentAfter: number, swappedAfter: number, units: number): 'swapped' | 'unmapped' | null {
  if (swappedAfter * 2 >= units) return 'swapped';
  if (presentBefore > 0 && presentAfter * 2 <= presentBefore) return 'unmapped';
  return null;
}

/** A THP case's word: `pmd` when PMDs map the whole region (`regionLen` bytes) after the
 * operation; `split` when they mapped some of it before and fewer do after while data stays
 * mapped: the operation took part of the region, or kept the data of all of it. */
export function thpWord(beforeKb: number, afterKb: number, regionLen: number, partial: boolean, kept: boolean): 'pmd' | 'split' | null {
  if (afterKb * 1024 >= regionLen) return 'pmd';
  if (beforeKb > 0 && afterKb < beforeKb && (partial || kept)) return 'split';
  return null;
}

/** thpWord of a THP case's recorded pmdBefore / pmdAfter; null where the case did not ask. */
export const pmdWord = (o: { pmdBefore?: number | null; pmdAfter?: number | null }, regionLen: number, partial: boolean, kept: boolean) =>
  o.pmdAfter === undefined || o.pmdAfter === null ? null : thpWord(o.pmdBefore ?? 0, o.pmdAfter, regionLen, partial, kept);

export function presenceWord(present: number, units: number): string {
  return present === units ? 'present' : present === 0 ? 'absent' : 'partial';
}

export function label(f: LabelFacts): string {
  if (f.errno) return f.contentAfterError && f.content ? [f.errno, contentWord(f.content), ...(f.thp ? [f.thp] : [])].join(' ') : f.errno;
  const words = ['ok'];
  if (f.moved) words.push('moved');
  if (f.content) words.push(contentWord(f.content));
  if (f.paged) words.push(f.paged);
  if (f.fault) words.push(f.fault);
  if (f.tail) words.push(`tail:${f.tail}`);
  if (f.old) words.push(`old:${f.old}`);
  if (f.presence) words.push(f.presence);
  if (f.freed) words.push('freed');
  if (f.allocated) words.push('allocated');
  if (f.cow) words.push('cow');
  if (f.outside && f.outside !== 'kept') words.push(`outside:${f.outside}`);
  if (f.thp) words.push(f.thp);
  if (f.alias) words.push(`alias:${f.alias}`);
  return words.join(' ');
}

type Moved = { hugeFree: number; shmemKb: number; anonKb: number; fileKb?: number };

// A hugetlb type's memory is its pool's: only the pool counts for it. Anonymous memory is the
// range's own (pagemap), not the process's RssAnon: node's heap grows and shrinks by a megabyte
// between two reads, as much as the half range "freed" asks for.

/** Bytes of backing memory released, by the counters that back each kind of memory (a shmem
 * file's blocks are its Shmem pages: the larger of the two counts, not their sum). */
export function releasedBytes(b: Moved, hugePage: number): number {
  if (hugePage) return Math.max(0, b.hugeFree) * hugePage;
  return Math.max(0, -b.shmemKb, -(b.fileKb ?? 0)) * 1024 + Math.max(0, -b.anonKb) * 1024;
}

/** Bytes of backing memory allocated: huge pages taken, shmem or file blocks grown, anonymous pages made. */
export function allocatedBytes(b: Moved, hugePage: number): number {
  if (hugePage) return Math.max(0, -b.hugeFree) * hugePage;
  return Math.max(0, b.shmemKb, b.fileKb ?? 0) * 1024 + Math.max(0, b.anonKb) * 1024;
}
