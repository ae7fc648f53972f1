// The memory types, as data: how to make a mapping of each, what it needs, how to tear
// it down. Cases are operations × these types.
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { K, mm } from '../guest/native.js';

export interface GuestEnv {
  hugePage: number; // default huge page size in bytes, 0 without hugetlb
  pools: Record<number, number>; // free huge pages per page size in bytes
  hugetlbfs: string; // mount point of a hugetlbfs of the default size
  hugetlbfs1g: string; // and of one with 1 GiB pages
  tmpfs: string; // mount point of a tmpfs
  ext4: string | null; // mount point of the scratch ext4 filesystem, null without one
  thp: string; // transparent_hugepage/enabled mode, 'none' without THP
  swap: string; // the active swap devices with their sizes (/proc/swaps), 'none' without any
}

const GIB = 1 << 30;

export interface Region {
  addr: bigint; // where the mapping is now: an mremap that moves or resizes it updates these,
  len: number; // so close() never unmaps an address the mapping has left
  fd: number; // the backing file, -1 for anonymous memory
  /** munmap the region's first `bytes`. They stop being the region's at once: another of node's
   * threads may map there before the case ends, and close() must not unmap that. */
  unmapHead(bytes: number): { errno?: string };
  close(): void; // unmap and release everything the region made
}

interface Backing {
  name: string;
  hugetlb: boolean;
  gigantic?: boolean; // 1 GiB huge pages instead of the default size
  thp?: boolean; // anonymous memory advised MADV_HUGEPAGE
  mapFlags?: number; // extra mmap flags
  sharedOnly?: boolean;
  privateOnly?: boolean;
  /** A file of `len` bytes, or fd -1 for anonymous memory. */
  open(len: number, env: GuestEnv): { fd: number; path?: string };
}

export interface MemType {
  id: string; // <backing>-<private|shared>
  backing: string;
  shared: boolean;
  hugetlb: boolean;
  file: boolean; // has a backing fd (fallocate applies)
  thp: boolean; // madvised MADV_HUGEPAGE: khugepaged may collapse it behind a case's back
  /** Its huge page size in bytes; 0 for memory that is not hugetlb. */
  hugePage(env: GuestEnv): number;
  /** Why this type cannot run here, or null. */
  unavailable(env: GuestEnv, len: number): string | null;
  create(len: number, env: GuestEnv, how?: MapOptions): Region;
}

export interface MapOptions {
  prot?: number; // default PROT_READ | PROT_WRITE
  flags?: number; // added to the type's own mmap flags (MAP_POPULATE, …)
}

let serial = 0;

function must<T extends { errno?: string }>(r: T, what: string): T {
  if (r.errno !== undefined) throw new Error(`${what}: ${r.errno}`);
  return r;
}

function memfd(len: number, flags: number): { fd: number } {
  const fd = must(mm.memfdCreate(`mmatrix-${serial++}`, K.MFD_CLOEXEC | flags), 'memfd_create').ret!;
  must(mm.ftruncate(fd, len), 'ftruncate');
  return { fd };
}

function fileIn(dir: string, len: number): { fd: number; path: string } {
  const path = `${dir}/mmatrix-${process.pid}-${serial++}`;
  const fd = openSync(path, 'w+');
  must(mm.ftruncate(fd, len), 'ftruncate');
  return { fd, path };
}

const anon = () => ({ fd: -1 });
// The page size in the flags, log2 above MAP_HUGE_SHIFT (memfd_create's MFD_HUGE_SHIFT is the same 26).
export const HUGE_1GB = 30 << 26;

const BACKINGS: Backing[] = [
  { name: 'anon', hugetlb: false, open: anon },
  { name: 'anon-thp', hugetlb: false, thp: true, privateOnly: true, open: anon },
  // Sealing allowed (no initial F_SEAL_SEAL), so a case may seal it; nothing else changes.
  { name: 'memfd', hugetlb: false, open: (len) => memfd(len, K.MFD_ALLOW_SEALING) },
  { name: 'tmpfs', hugetlb: false, open: (len, env) => fileIn(env.tmpfs, len) },
  { name: 'ext4', hugetlb: false, open: (len, env) => fileIn(env.ext4!, len) },
  { name: 'hugetlbfs', hugetlb: true, open: (len, env) => fileIn(env.hugetlbfs, len) },
  { name: 'memfd-hugetlb', hugetlb: true, open: (len) => memfd(len, K.MFD_HUGETLB | K.MFD_ALLOW_SEALING) },
  { name: 'map-hugetlb', hugetlb: true, mapFlags: K.MAP_HUGETLB, open: anon },
  { name: 'hugetlbfs-1g', hugetlb: true, gigantic: true, open: (len, env) => fileIn(env.hugetlbfs1g, len) },
  { name: 'memfd-hugetlb-1g', hugetlb: true, gigantic: true, open: (len) => memfd(len, K.MFD_HUGETLB | K.MFD_ALLOW_SEALING | HUGE_1GB) },
  { name: 'map-hugetlb-1g', hugetlb: true, gigantic: true, mapFlags: K.MAP_HUGETLB | HUGE_1GB, open: anon },
];

function hugetlbNeed(env: GuestEnv, len: number, size: number, gigantic: boolean): string | null {
  if (!env.hugePage) return 'kernel has no hugetlb support';
  const need = Math.ceil(len / size);
  const free = env.pools[size] ?? 0;
  if (gigantic && free === 0) return 'no 1 GiB huge pages in the guest (run with --pool-1g N)';
  return free < need ? `need ${need} free ${size >> 20} MiB huge pages, pool has ${free}` : null;
}

/** A PMD's span on x86-64: where a THP can back a range, and what a region is aligned to. */
export const THP_ALIGN = 2 << 20;

/** The pattern a file holds before a mapping writes its own: a private mapping that drops its
 * copies then reads the file's data (`file`), not zeros that look like anonymous memory's. It
 * differs from every family's seed modulo 251 (guest/addon/guard.c), so no unit matches both. */
export const FILE_SEED = 0xc3;

/** Write FILE_SEED's pattern into a region's backing file through a shared mapping of its own
 * (hugetlbfs has no write(2)); anonymous memory has no file and is left alone. For a private
 * hugetlb mapping this takes the file's huge pages on top of the mapping's own. */
export function writeFileData(r: Region): void {
  if (r.fd < 0) return;
  const m = must(mm.mmap(0, r.len, K.PROT_READ | K.PROT_WRITE, K.MAP_SHARED, r.fd, 0), 'mmap the file shared').addr!;
  const filled = mm.fill(m, r.len, FILE_SEED);
  mm.munmap(m, r.len);
  if (!filled.ok) throw new Error(`writing the file's data faulted: ${filled.signal} at ${filled.offset}`);
}

/** The file's own data first (writeFileData), then the mapping's pattern of `seed` over all of it.
 * A shared mapping's writes are the file's data, so its fill overwrites every unit of FILE_SEED's:
 * only a private mapping's file is given data of its own first (under TCG that write cost a
 * shared case as much as its fill). */
export function fillWithData(r: Region, seed: number, shared: boolean): void {
  if (!shared) writeFileData(r);
  const filled = mm.fill(r.addr, r.len, seed);
  if (!filled.ok) throw new Error(`fill faulted: ${filled.signal} at ${filled.offset}`);
}

/** Lengths of memory a case with the file's own data needs: a private hugetlb file mapping
 * holds the file's pages and its private copies at once. */
export const withFileData = (mt: MemType): number => (mt.hugetlb && mt.file && !mt.shared ? 2 : 1);

/** A PROT_NONE placeholder of `len` bytes starting on an `align` boundary (over-allocated,
 * then trimmed): a hole to map into with MAP_FIXED, or for MREMAP_FIXED to land on. */
export function alignedHole(len: number, align: number): bigint {
  const raw = must(mm.mmap(0, len + align, K.PROT_NONE, K.MAP_PRIVATE | K.MAP_ANONYMOUS | K.MAP_NORESERVE, -1, 0), 'mmap placeholder').addr!;
  const start = (raw + BigInt(align - 1)) & ~BigInt(align - 1);
  if (start > raw) mm.munmap(raw, Number(start - raw));
  const tail = Number(raw + BigInt(len + align) - (start + BigInt(len)));
  if (tail > 0) mm.munmap(start + BigInt(len), tail);
  return start;
}

/** mmap with the range starting on a 2 MiB boundary whatever the address-space layout: whether a
 * THP can back a range (MADV_COLLAPSE, THP) depends on it, and ASLR alone would make that a coin
 * toss. The mapping goes into an aligned hole, so a file still starts at offset 0 at the region's
 * first byte. hugetlb mappings come aligned to their page size. */
function mapRegion(b: Backing, len: number, flags: number, fd: number, prot: number): bigint {
  if (b.hugetlb) return must(mm.mmap(0, len, prot, flags, fd, 0), 'mmap').addr!;
  const start = alignedHole(len, THP_ALIGN);
  const m = mm.mmap(start, len, prot, flags | K.MAP_FIXED, fd, 0);
  if (m.errno !== undefined) {
    mm.munmap(start, len);
    throw new Error(`mmap: ${m.errno}`);
  }
  if (b.thp) must(mm.madvise(start, len, K.MADV_HUGEPAGE), 'madvise(MADV_HUGEPAGE)');
  return start;
}

function memtype(b: Backing, shared: boolean): MemType {
  return {
    id: `${b.name}-${shared ? 'shared' : 'private'}`,
    backing: b.name,
    shared,
    hugetlb: b.hugetlb,
    file: b.open !== anon,
    thp: !!b.thp,
    hugePage: (env) => (!b.hugetlb ? 0 : b.gigantic ? GIB : env.hugePage),
    unavailable(env, len) {
      if (b.hugetlb) return hugetlbNeed(env, len, b.gigantic ? GIB : env.hugePage, !!b.gigantic);
      if (b.name === 'ext4' && !env.ext4) return 'no scratch ext4 filesystem in the guest';
      if (b.thp && !['always', 'madvise'].includes(env.thp)) return `THP is '${env.thp}'`;
      return null;
    },
    create(len, env, how = {}) {
      const { fd, path } = b.open(len, env) as { fd: number; path?: string };
      const flags = (shared ? K.MAP_SHARED : K.MAP_PRIVATE) | (fd < 0 ? K.MAP_ANONYMOUS : 0) | (b.mapFlags ?? 0) | (how.flags ?? 0);
      let addr: bigint;
      try {
        addr = mapRegion(b, len, flags, fd, how.prot ?? K.PROT_READ | K.PROT_WRITE);
      } catch (e) {
        if (fd >= 0) closeSync(fd);
        if (path) unlinkSync(path);
        throw e;
      }
      let head = 0; // bytes at the start the case unmapped itself (unmapHead)
      return {
        addr,
        len,
        fd,
        unmapHead(bytes) {
          const r = mm.munmap(this.addr, bytes);
          if (r.errno === undefined) head = bytes;
          return r;
        },
        close() {
          mm.munmap(this.addr + BigInt(head), this.len - head);
          if (fd >= 0) closeSync(fd);
          if (path) unlinkSync(path);
        },
      };
    },
  };
}

export const MEMTYPES: MemType[] = BACKINGS.flatMap((b) => [...(b.sharedOnly ? [] : [memtype(b, false)]), ...(b.privateOnly ? [] : [memtype(b, true)])]);
