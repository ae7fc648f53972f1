// What every case does around its operation: note the hugetlb pool, make the region, run
// the body, tear the region down whatever happened, and check the pool came back.

import { type Case, SkipCase } from '../guest/harness.js';
import { counters, pmdMappedKb } from '../guest/proc.js';
import { OBSERVATION_SCHEMA, type Observation } from '../guest/protocol.js';
import { fillWithData, type GuestEnv, type MapOptions, MEMTYPES, type MemType, type Region, THP_ALIGN } from './memtypes.js';

export interface Variant {
  id: string; // '' for the plain case; otherwise it shows in the case id as op@variant
  /** A length of its own instead of caseLength (whether the type can run here is still
   * judged at caseLength: a variant may mean to go beyond what the pool holds). */
  length?(env: GuestEnv, mt: MemType): number;
  /** Lengths of memory the variant needs on top of what the operation does (a second mapping's copies). */
  lengthsNeeded?(mt: MemType): number;
}

export const PLAIN: Variant[] = [{ id: '' }];

/** The cases of a family: operations × variants × memory types, where the operation applies. */
export function product<O extends { id: string; lengthsNeeded?: (mt: MemType) => number; pmds?: boolean }, V extends Variant>(
  env: GuestEnv,
  ops: O[],
  variants: V[],
  applies: (op: O, mt: MemType, v: V) => boolean,
  observe: (op: O, v: V, mt: MemType, len: number) => Observation,
): Case[] {
  return ops.flatMap((op) =>
    variants.flatMap((v) =>
      MEMTYPES.filter((mt) => applies(op, mt, v)).map((mt) => {
        const len = v.length?.(env, mt) ?? caseLength(env, mt, op);
        // The memory a case needs: its mapping, times what the operation adds (a forked child's copies).
        const needed = caseLength(env, mt, op) * (op.lengthsNeeded?.(mt) ?? 1) * (v.lengthsNeeded?.(mt) ?? 1);
        return { id: caseId(op.id, v.id, mt.id), skip: mt.unavailable(env, needed), khugepaged: mt.thp, run: () => observe(op, v, mt, len) };
      }),
    ),
  );
}

/** Two PMDs' worth (2 × 2 MiB): what a THP region spans, and what an operation about PMDs
 * (`pmds`: MADV_COLLAPSE builds them on any type) needs to have one to build. */
export const PMD_PAIR = 2 * THP_ALIGN;
/** A base-page type's region: 128 units of 4 KiB, eight times the 64 KiB a read fault maps around
 * itself in a file (fault_around_bytes), so the mapping's ends, its middle half and its
 * surroundings stay apart. Under TCG a case costs what the kernel does per page, and a region
 * of two PMDs would spend that on 1024 pages to ask what 128 answer. */
export const BASE_LEN = 512 << 10;

/** The case length: two huge pages of a hugetlb type's size; two PMDs for a THP type or an
 * operation about PMDs; BASE_LEN for the other types. */
export const caseLength = (env: GuestEnv, mt: MemType, op: { pmds?: boolean } = {}): number =>
  mt.hugetlb ? 2 * mt.hugePage(env) : mt.thp || op.pmds ? PMD_PAIR : BASE_LEN;

export const caseId = (op: string, variant: string, mt: string) => `${op}${variant ? `@${variant}` : ''}.${mt}`;

export type Recorded = Omit<Observation, 'poolBalanced' | 'label'>;
type Facts = Partial<Omit<Recorded, 'schema' | 'case' | 'op' | 'memtype' | 'ret' | 'errno'>>;

/** One observation record: identity, the call's result (errno by name), the family's facts;
 * every fact a family does not measure is null. */
export function record(op: string, variant: string, mt: MemType, len: number, r: { errno?: string; ret?: number }, facts: Facts): Recorded {
  return {
    schema: OBSERVATION_SCHEMA,
    case: caseId(op, variant, mt.id),
    op,
    memtype: mt.id,
    len,
    ret: r.errno !== undefined ? null : (r.ret ?? 0),
    errno: r.errno ?? null,
    presentBefore: null,
    presentAfter: null,
    content: null,
    backing: null,
    freed: null,
    ...facts,
  };
}

type Body = (region: Region) => Recorded;

export function withRegion(mt: MemType, env: GuestEnv, len: number, how: MapOptions, body: Body, label: (o: Recorded) => string): Observation {
  const base = mt.hugetlb ? counters() : null; // only the hugetlb pool has a balance to check
  const region = mt.create(len, env, how);
  let obs: Recorded;
  try {
    obs = body(region);
  } finally {
    region.close();
  }
  const end = base && counters();
  const poolBalanced = base && end ? end.hugeFree === base.hugeFree && end.hugeRsvd === base.hugeRsvd : null;
  return { ...obs, poolBalanced, label: label(obs) };
}

/** withRegion for a region filled first: the file's own data, then the pattern of `seed`. */
export const withFilledRegion = (mt: MemType, env: GuestEnv, len: number, seed: number, body: Body, label: (o: Recorded) => string): Observation =>
  withRegion(
    mt,
    env,
    len,
    {},
    (region) => {
      fillWithData(region, seed, mt.shared);
      return body(region);
    },
    label,
  );

/** The kB of [addr, addr+len) PMDs map before an operation, for a case that asks (`asks`: a THP
 * type, or an operation such as MADV_COLLAPSE that asks on any type); null otherwise. A THP type
 * whose fill got no THP over `need` bytes is a SKIP: the question cannot be asked there. */
export function pmdBeforeOp(mt: MemType, addr: bigint, len: number, need = len, asks = mt.backing === 'anon-thp'): number | null {
  if (!asks) return null;
  const kb = pmdMappedKb(addr, len);
  if (mt.backing === 'anon-thp' && kb * 1024 < need) throw new SkipCase(`no THP backed the range before the operation (PMD-mapped ${kb} of ${need >> 10} kB)`);
  return kb;
}
