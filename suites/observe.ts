// What every case does around its operation: note the hugetlb pool, make the region, run
// the body, tear the region down whatever happened, and check the pool came back.
import { counters } from '../guest/proc.js';
import type { Observation } from '../guest/schema.js';
import type { GuestEnv, MapOptions, MemType, Region } from './memtypes.js';

/** The case length: two huge pages, or 4 MiB where huge pages are smaller or absent. */
export const caseLength = (env: GuestEnv) => 2 * Math.max(env.hugePage, 2 << 20);

export const caseId = (op: string, variant: string, mt: string) => `${op}${variant ? `@${variant}` : ''}.${mt}`;

type Body = (region: Region) => Omit<Observation, 'poolBalanced' | 'label'>;

export function withRegion(
  mt: MemType,
  env: GuestEnv,
  len: number,
  how: MapOptions,
  body: Body,
  label: (o: Omit<Observation, 'poolBalanced' | 'label'>) => string,
): Observation {
  const base = counters();
  const region = mt.create(len, env, how);
  let obs: Omit<Observation, 'poolBalanced' | 'label'>;
  try {
    obs = body(region);
  } finally {
    region.close();
  }
  const end = counters();
  const poolBalanced = mt.hugetlb ? end.hugeFree === base.hugeFree && end.hugeRsvd === base.hugeRsvd : null;
  return { ...obs, poolBalanced, label: label(obs) };
}
