// Counters from /proc: system-wide (meminfo, hugepages) and this process (status).
import { readFileSync } from 'node:fs';
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
  hugeFree: number;
  hugeRsvd: number;
  hugeTotal: number;
  shmemKb: number;
  rssAnonKb: number;
  rssShmemKb: number;
  rssFileKb: number;
}

export function counters(): Counters {
  const mi = fields('/proc/meminfo');
  const st = fields('/proc/self/status');
  return {
    hugeFree: mi.get('HugePages_Free') ?? 0,
    hugeRsvd: mi.get('HugePages_Rsvd') ?? 0,
    hugeTotal: mi.get('HugePages_Total') ?? 0,
    shmemKb: mi.get('Shmem') ?? 0,
    rssAnonKb: st.get('RssAnon') ?? 0,
    rssShmemKb: st.get('RssShmem') ?? 0,
    rssFileKb: st.get('RssFile') ?? 0,
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
