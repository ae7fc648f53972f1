// Counters from /proc: system-wide (meminfo, hugepages) and this process (status).
import { existsSync, fstatSync, readdirSync, readFileSync } from 'node:fs';
import type { Backing } from './schema.js';

function fields(path: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^([\w()]+):\s+(\d+)/.exec(line);
    if (match) m.set(match[1], Number(match[2]));
  }
  return m;
}

export interface Counters {
  hugeFree: number; // summed over every huge page size: a case uses one size, so its
  hugeRsvd: number; // deltas count pages of that size
  hugeTotal: number;
  shmemKb: number;
  rssAnonKb: number;
  rssShmemKb: number;
  rssFileKb: number;
  fileKb: number; // blocks the backing file holds (st_blocks), 0 without a file
}

const HSTATES = '/sys/kernel/mm/hugepages';

/** Each huge page size's pool (bytes → counts), from /sys/kernel/mm/hugepages/hugepages-<kB>kB. */
export function hugePools(): Map<number, { total: number; free: number; rsvd: number }> {
  const pools = new Map<number, { total: number; free: number; rsvd: number }>();
  if (!existsSync(HSTATES)) return pools;
  for (const d of readdirSync(HSTATES)) {
    const kb = /^hugepages-(\d+)kB$/.exec(d);
    if (!kb) continue;
    const read = (f: string) => Number(readFileSync(`${HSTATES}/${d}/${f}`, 'utf8'));
    pools.set(Number(kb[1]) * 1024, { total: read('nr_hugepages'), free: read('free_hugepages'), rsvd: read('resv_hugepages') });
  }
  return pools;
}

/** The counters now; `fd` is the backing file whose blocks count as fileKb. */
export function counters(fd = -1): Counters {
  const mi = fields('/proc/meminfo');
  const st = fields('/proc/self/status');
  const pools = [...hugePools().values()];
  const sum = (k: 'total' | 'free' | 'rsvd') => pools.reduce((n, p) => n + p[k], 0);
  return {
    hugeFree: sum('free'),
    hugeRsvd: sum('rsvd'),
    hugeTotal: sum('total'),
    shmemKb: mi.get('Shmem') ?? 0,
    rssAnonKb: st.get('RssAnon') ?? 0,
    rssShmemKb: st.get('RssShmem') ?? 0,
    rssFileKb: st.get('RssFile') ?? 0,
    fileKb: fd >= 0 ? fstatSync(fd).blocks / 2 : 0,
  };
}

export function delta(before: Counters, after: Counters): Backing {
  return {
    hugeFree: after.hugeFree - before.hugeFree,
    hugeRsvd: after.hugeRsvd - before.hugeRsvd,
    shmemKb: after.shmemKb - before.shmemKb,
    rssAnonKb: after.rssAnonKb - before.rssAnonKb,
    rssShmemKb: after.rssShmemKb - before.rssShmemKb,
    rssFileKb: after.rssFileKb - before.rssFileKb,
    fileKb: after.fileKb - before.fileKb,
  };
}

/** The default huge page size in bytes (0 when the kernel has no hugetlb). */
export function hugePageSize(): number {
  return (fields('/proc/meminfo').get('Hugepagesize') ?? 0) * 1024;
}

/** The bracketed mode of transparent_hugepage/enabled, or 'none' without THP. */
export function thpMode(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'none';
  } catch {
    return 'none';
  }
}
