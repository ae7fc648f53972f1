// Counters from /proc: system-wide (meminfo, hugepages) and this process (status).
// A case reads them around every operation, so they are cheap: each file stays open and is
// read again from offset 0 with one pread, and only the wanted keys are picked out (under
// TCG that is ~0.7 ms for all of them, against ~9 ms opening each file and parsing every line).
import { existsSync, fstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mm } from './native.js';
import type { Backing } from './protocol.js';

const open = new Map<string, number>();

/** The file's descriptor, opened on the first read and kept for as long as the program runs. */
function kept(path: string): number {
  let fd = open.get(path);
  if (fd === undefined) {
    fd = openSync(path, 'r');
    open.set(path, fd);
  }
  return fd;
}

/** The file's whole text now (procfs and sysfs files regenerate on a read from offset 0), read
 * by the addon: one pread, no fs call or Buffer on node's side. */
export const reread = (path: string): string => mm.preadText(kept(path));

/** The number after "<key>:" at the start of a line of `text`, or null. */
export function field(text: string, key: string): number | null {
  const at = `\n${text}`.indexOf(`\n${key}:`);
  if (at < 0) return null;
  const m = /^\s*(\d+)/.exec(text.slice(at + key.length + 1, at + key.length + 40));
  return m ? Number(m[1]) : null;
}

/** A /proc/vmstat counter (lines "<key> <n>"), or null where the kernel has none. */
export function vmstat(key: string): number | null {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(reread('/proc/vmstat'));
  return m ? Number(m[1]) : null;
}

export interface Counters {
  hugeFree: number; // summed over every huge page size: a case uses one size, so its
  hugeRsvd: number; // deltas count pages of that size
  shmemKb: number;
  rssAnonKb: number;
  rssShmemKb: number;
  rssFileKb: number;
  fileKb: number; // blocks the backing file holds (st_blocks), 0 without a file
}

const HSTATES = '/sys/kernel/mm/hugepages';

let hstates: { dir: string; bytes: number }[] | null = null; // the sizes never change while a guest runs

function sizes(): { dir: string; bytes: number }[] {
  hstates ??= existsSync(HSTATES)
    ? readdirSync(HSTATES).flatMap((dir) => {
        const kb = /^hugepages-(\d+)kB$/.exec(dir);
        return kb ? [{ dir, bytes: Number(kb[1]) * 1024 }] : [];
      })
    : [];
  return hstates;
}

const poolOf = (dir: string) => ({ free: Number(reread(`${HSTATES}/${dir}/free_hugepages`)), rsvd: Number(reread(`${HSTATES}/${dir}/resv_hugepages`)) });

/** Each huge page size's pool (bytes → counts), from /sys/kernel/mm/hugepages/hugepages-<kB>kB. */
export function hugePools(): Map<number, { free: number; rsvd: number }> {
  return new Map(sizes().map(({ dir, bytes }) => [bytes, poolOf(dir)]));
}

/** The sizes counters() sums, found once: those with pages or room to overcommit. A size with
 * neither (1 GiB without --pool-1g) has 0 free and 0 reserved for as long as the guest runs, as
 * no case writes a pool's size, and counters() runs twice or more a case. */
let counted: string[] | null = null;
const some = (dir: string, f: string) => Number(reread(`${HSTATES}/${dir}/${f}`)) > 0;

/** The counters now; `fd` is the backing file whose blocks count as fileKb. */
export function counters(fd = -1): Counters {
  const mi = reread('/proc/meminfo');
  const st = reread('/proc/self/status');
  counted ??= sizes().flatMap(({ dir }) => (some(dir, 'nr_hugepages') || some(dir, 'nr_overcommit_hugepages') ? [dir] : []));
  let hugeFree = 0;
  let hugeRsvd = 0;
  for (const dir of counted) {
    const p = poolOf(dir);
    hugeFree += p.free;
    hugeRsvd += p.rsvd;
  }
  return {
    hugeFree,
    hugeRsvd,
    shmemKb: field(mi, 'Shmem') ?? 0,
    rssAnonKb: field(st, 'RssAnon') ?? 0,
    rssShmemKb: field(st, 'RssShmem') ?? 0,
    rssFileKb: field(st, 'RssFile') ?? 0,
    fileKb: fd >= 0 ? fstatSync(fd).blocks / 2 : 0,
  };
}

/** How the counters moved; `anonPages` is how many anonymous pages the range itself gained
 * (pagemap), which backing.anonKb carries: the process's RssAnon also moves with node's heap. */
export function delta(before: Counters, after: Counters, anonPages: number): Backing {
  return {
    hugeFree: after.hugeFree - before.hugeFree,
    hugeRsvd: after.hugeRsvd - before.hugeRsvd,
    shmemKb: after.shmemKb - before.shmemKb,
    rssAnonKb: after.rssAnonKb - before.rssAnonKb,
    rssShmemKb: after.rssShmemKb - before.rssShmemKb,
    rssFileKb: after.rssFileKb - before.rssFileKb,
    fileKb: after.fileKb - before.fileKb,
    anonKb: anonPages * 4,
  };
}

/** The default huge page size in bytes (0 when the kernel has no hugetlb). */
export function hugePageSize(): number {
  return (field(reread('/proc/meminfo'), 'Hugepagesize') ?? 0) * 1024;
}

/** The bracketed mode of transparent_hugepage/enabled, or 'none' without THP. */
export function thpMode(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'none';
  } catch {
    return 'none';
  }
}

const PMD_FIELDS = /^(?:AnonHugePages|ShmemPmdMapped|FilePmdMapped):\s+(\d+) kB/gm;
const VMA_HEADER = /^([0-9a-f]+)-([0-9a-f]+) /gm;

/** The sum of AnonHugePages, ShmemPmdMapped and FilePmdMapped in a smaps text (one VMA's). */
export const pmdKbOf = (text: string): number => [...text.matchAll(PMD_FIELDS)].reduce((kb, m) => kb + Number(m[1]), 0);

/** kB mapped by PMDs in the VMAs of an /proc/<pid>/smaps text that overlap [start, start+len). */
export function pmdKbIn(smaps: string, start: bigint, len: number): number {
  const end = start + BigInt(len);
  const vmas = [...smaps.matchAll(VMA_HEADER)];
  let kb = 0;
  vmas.forEach((v, i) => {
    if (BigInt(`0x${v[1]}`) < end && BigInt(`0x${v[2]}`) > start) kb += pmdKbOf(smaps.slice(v.index, vmas[i + 1]?.index));
  });
  return kb;
}

/** kB of [start, start+len) mapped by PMDs, from /proc/self/smaps: AnonHugePages, ShmemPmdMapped
 * and FilePmdMapped of every VMA the range overlaps (smaps has no finer grain; the cases' ranges
 * are whole VMAs, or split ones that stay inside the region). Not smaps_rollup, though it costs a
 * quarter as much under TCG: show_smaps_rollup() lets go of mmap_lock when another thread waits for
 * it and sums on from the last VMA it saw, and in a 6.1 guest, node's own threads running, its PMD
 * sum read 0 in 3 of 1387 reads while the region's 4 MiB stayed PMD-mapped (25 of 191 with two
 * threads mapping and unmapping); smaps read 4096 kB every time (docs/figures.md). */
export function pmdMappedKb(start: bigint, len: number): number {
  // Longer than one pread takes (86 kB of node's VMAs in a 6.1 guest): read whole by the addon,
  // read(2) to EOF on the kept file, 3.1–3.4 ms under TCG where readFileSync took 10–14 ms.
  return pmdKbIn(mm.readAll(kept('/proc/self/smaps')), start, len);
}
