// The memory types, as data: how to make a mapping of each, what it needs, how to
// tear it down. Cases are operations × these types.
import { closeSync, openSync, unlinkSync } from 'node:fs';
import { K, mm } from '../guest/native.js';

export interface GuestEnv {
  hugePage: number; // bytes, 0 without hugetlb
  hugeFree: number; // free pages in the default pool
  hugetlbfs: string; // mount point of a hugetlbfs
}

export interface Region {
  addr: bigint;
  len: number;
  fd: number; // the backing file, -1 for anonymous memory
  close(): void; // unmap and release everything the region made
}

type Backing = 'anon' | 'memfd' | 'hugetlbfs';

export interface MemType {
  id: string; // <backing>-<private|shared>
  backing: Backing;
  shared: boolean;
  hugetlb: boolean;
  /** Why this type cannot run here, or null. */
  unavailable(env: GuestEnv, len: number): string | null;
  create(len: number, env: GuestEnv): Region;
}

let serial = 0;

/** A file descriptor of `len` bytes for the backing, or -1 for anonymous memory. */
function openBacking(backing: Backing, len: number, env: GuestEnv): { fd: number; path?: string } {
  if (backing === 'anon') return { fd: -1 };
  if (backing === 'memfd') {
    const r = mm.memfdCreate(`mmatrix-${serial++}`, K.MFD_CLOEXEC);
    if (r.errno !== undefined) throw new Error(`memfd_create: ${r.errno}`);
    must(mm.ftruncate(r.ret, len), 'ftruncate');
    return { fd: r.ret };
  }
  const path = `${env.hugetlbfs}/mmatrix-${process.pid}-${serial++}`;
  const fd = openSync(path, 'w+');
  must(mm.ftruncate(fd, len), 'ftruncate');
  return { fd, path };
}

function must(r: { errno?: string }, what: string): void {
  if (r.errno) throw new Error(`${what}: ${r.errno}`);
}

function hugetlbNeed(env: GuestEnv, len: number): string | null {
  if (!env.hugePage) return 'kernel has no hugetlb support';
  const need = Math.ceil(len / env.hugePage);
  return env.hugeFree < need ? `need ${need} free huge pages, pool has ${env.hugeFree}` : null;
}

function memtype(backing: Backing, shared: boolean): MemType {
  const hugetlb = backing === 'hugetlbfs';
  return {
    id: `${backing}-${shared ? 'shared' : 'private'}`,
    backing,
    shared,
    hugetlb,
    unavailable: (env, len) => (hugetlb ? hugetlbNeed(env, len) : null),
    create(len, env) {
      const { fd, path } = openBacking(backing, len, env);
      const flags = (shared ? K.MAP_SHARED : K.MAP_PRIVATE) | (fd < 0 ? K.MAP_ANONYMOUS : 0);
      const m = mm.mmap(0, len, K.PROT_READ | K.PROT_WRITE, flags, fd, 0);
      if (m.errno !== undefined) {
        if (fd >= 0) closeSync(fd);
        if (path) unlinkSync(path);
        throw new Error(`mmap: ${m.errno}`);
      }
      const addr = m.addr;
      return {
        addr,
        len,
        fd,
        close() {
          mm.munmap(addr, len);
          if (fd >= 0) closeSync(fd);
          if (path) unlinkSync(path);
        },
      };
    },
  };
}

const BACKINGS: Backing[] = ['anon', 'memfd', 'hugetlbfs'];

export const MEMTYPES: MemType[] = BACKINGS.flatMap((b) => [memtype(b, false), memtype(b, true)]);
