// The zap family: operations that discard a range's contents. Each case fills the
// range with a pattern, applies the operation and records what the kernel did.
import type { Case } from '../guest/harness.js';
import { K, mm, type Sys } from '../guest/native.js';
import { counters, delta } from '../guest/proc.js';
import { label, releasedBytes } from '../guest/label.js';
import { OBSERVATION_SCHEMA, type Observation } from '../guest/schema.js';
import { MEMTYPES, type GuestEnv, type MemType, type Region } from './memtypes.js';

export interface ZapOp {
  id: string;
  apply(r: Region): Sys;
}

export const ZAP_OPS: ZapOp[] = [
  { id: 'madv_dontneed', apply: (r) => mm.madvise(r.addr, r.len, K.MADV_DONTNEED) },
];

const SEED = 0x5a;

function observe(op: ZapOp, mt: MemType, env: GuestEnv, len: number): Observation {
  const base = counters();
  const region = mt.create(len, env);
  let obs: Omit<Observation, 'poolBalanced' | 'label'>;
  try {
    const filled = mm.fill(region.addr, len, SEED);
    if (!filled.ok) throw new Error(`fill faulted: ${filled.signal} at ${filled.offset}`);
    const before = counters();
    const presentBefore = mm.pagemap(region.addr, len).present;
    const r = op.apply(region);
    const after = counters();
    const presentAfter = mm.pagemap(region.addr, len).present;
    const content = mm.scan(region.addr, len, SEED);
    const backing = delta(before, after);
    obs = {
      schema: OBSERVATION_SCHEMA,
      case: `${op.id}.${mt.id}`,
      op: op.id,
      memtype: mt.id,
      len,
      ret: r.errno !== undefined ? null : r.ret,
      errno: r.errno ?? null,
      presentBefore,
      presentAfter,
      content,
      backing,
      freed: releasedBytes(backing, env.hugePage) >= len / 2,
    };
  } finally {
    region.close();
  }
  const end = counters();
  const poolBalanced = mt.hugetlb ? end.hugeFree === base.hugeFree && end.hugeRsvd === base.hugeRsvd : null;
  return { ...obs, poolBalanced, label: label(obs) };
}

export function zapCases(env: GuestEnv): Case[] {
  const len = 2 * Math.max(env.hugePage, 2 << 20);
  return ZAP_OPS.flatMap((op) =>
    MEMTYPES.map((mt) => ({
      id: `${op.id}.${mt.id}`,
      skip: mt.unavailable(env, len),
      run: () => observe(op, mt, env, len),
    })),
  );
}
