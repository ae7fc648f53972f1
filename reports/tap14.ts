// One merged TAP 14 stream for CI systems that read TAP: a subtest per kernel, a point per
// case. A point is `ok` or `not ok` as outcome.ts says; a SKIP carries its
// reason; each point's YAML block gives the status, the label and what was expected.
import { outcomeRow } from './outcome.js';
import { type KernelResult, kernelTitle, labelOf } from './results.js';

const q = (s: string) => JSON.stringify(s);

export const tapHeader = (kernels: number) => `TAP version 14\n1..${kernels}\n`;

export function kernelSubtest(k: KernelResult, n: number): string {
  const title = kernelTitle(k);
  const points = k.cases.map((c, i) => {
    const { kcidb: status, tapOk: ok } = outcomeRow(c);
    const skip = c.status === 'skip' ? ` # SKIP ${(c.reason ?? '').replace(/\n/g, ' ')}` : '';
    const yaml = [`status: ${q(status)}`];
    if (c.status === 'observed') yaml.push(`label: ${q(labelOf(c))}`);
    if (c.verdict && c.verdict.status !== 'none') yaml.push(`expected: ${q(c.verdict.expected)}`, `source: ${q(c.verdict.source)}`);
    if (c.status !== 'observed' && c.status !== 'skip') yaml.push(`reason: ${q(c.reason ?? c.status)}`);
    const block = c.status === 'skip' ? [] : ['      ---', ...yaml.map((l) => `      ${l}`), '      ...'];
    return [`    ${ok ? 'ok' : 'not ok'} ${i + 1} - ${c.id}${skip}`, ...block];
  });
  if (k.error)
    points.push([`    not ok ${k.cases.length + 1} - (run)`, '      ---', `      reason: ${q(`${k.error.phase}: ${k.error.message}`)}`, '      ...']);
  const failed = k.error !== null || k.cases.some((c) => !outcomeRow(c).tapOk);
  return `${[`# Subtest: ${title}`, `    1..${points.length}`, ...points.flat(), `${failed ? 'not ok' : 'ok'} ${n} - ${title}`].join('\n')}\n`;
}
