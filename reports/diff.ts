// The gate: the cells that changed between a baseline and a candidate, each classed as
// expected (the expectation table predicts the new label for the candidate's version and a
// different one for the baseline's), accepted (in the user's allowlist) or unexplained.
import { readFileSync } from 'node:fs';
import { InputError } from '../common/errors.js';
import { caseFilter } from '../guest/pattern.js';
import { explainingSource } from './changes.js';
import type { Expectations } from './expectations.js';
import { fingerprintDiff, REFUSE } from './fingerprint.js';
import { type CaseResult, type KernelResult, kernelTitle, labelOf, type Results } from './results.js';

export type ChangeClass = 'expected' | 'accepted' | 'unexplained';

export interface Change {
  id: string;
  base: string;
  cand: string;
  class: ChangeClass;
  why: string; // the expectation's source, the allowlist line, or ''
}

export interface KernelDiff {
  base: KernelResult;
  cand: KernelResult;
  changes: Change[];
  crashes: string[]; // candidate run errors and case errors
  environment: string[]; // fingerprint differences
}

/** An allowlist: one case pattern per line, optionally followed by a reason; # starts a comment. */
export function parseAllowlist(text: string): { pattern: string; reason: string; line: number }[] {
  return text.split('\n').flatMap((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return [];
    const [pattern, ...reason] = line.split(/\s+/);
    return [{ pattern, reason: reason.join(' '), line: i + 1 }];
  });
}

export function loadAllowlist(path: string | undefined): ReturnType<typeof parseAllowlist> {
  if (!path) return [];
  try {
    return parseAllowlist(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InputError(`cannot read allowlist '${path}': ${(e as Error).message}`);
  }
}

const cellOf = (c: CaseResult | undefined) => (!c ? 'absent' : c.status === 'observed' ? labelOf(c) : c.status === 'skip' ? 'SKIP' : 'ERROR');

/** Pair kernels by spec; two single-kernel results pair with each other whatever their names. */
export function pairKernels(base: Results, cand: Results): [KernelResult, KernelResult][] {
  if (base.kernels.length === 1 && cand.kernels.length === 1) return [[base.kernels[0], cand.kernels[0]]];
  const pairs = cand.kernels.flatMap((c) => {
    const b = base.kernels.find((k) => k.spec === c.spec);
    return b ? [[b, c] as [KernelResult, KernelResult]] : [];
  });
  if (pairs.length === 0)
    throw new InputError('no kernel of the candidate matches one of the baseline by name; compare single-kernel results, or the same kernel specs');
  return pairs;
}

export function diffKernels(base: KernelResult, cand: KernelResult, x: Expectations | null, allow: ReturnType<typeof parseAllowlist>): KernelDiff {
  const ids = [...new Set([...base.cases, ...cand.cases].map((c) => c.id))];
  const changes: Change[] = [];
  for (const id of ids) {
    const [b, c] = [cellOf(base.cases.find((k) => k.id === id)), cellOf(cand.cases.find((k) => k.id === id))];
    if (b === c) continue;
    const allowed = allow.find((a) => caseFilter([a.pattern])(id));
    const xb = x && base.release ? x.expected(id, base.release) : null;
    const xc = x && cand.release ? x.expected(id, cand.release) : null;
    const why = explainingSource(xb, xc, b, c);
    if (why !== null) {
      changes.push({ id, base: b, cand: c, class: 'expected', why });
    } else if (allowed) {
      changes.push({ id, base: b, cand: c, class: 'accepted', why: `allowlist line ${allowed.line}${allowed.reason ? `: ${allowed.reason}` : ''}` });
    } else {
      changes.push({ id, base: b, cand: c, class: 'unexplained', why: '' });
    }
  }
  const crashes = [
    ...(cand.error ? [`${cand.error.phase}: ${cand.error.message}`] : []),
    ...cand.cases.filter((c) => ['error', 'crash', 'timeout'].includes(c.status)).map((c) => `${c.id}: ${c.status}: ${c.reason ?? ''}`),
  ];
  return { base, cand, changes, crashes, environment: fingerprintDiff(base.fingerprint, cand.fingerprint).map((d) => d.text) };
}

/** Refuse a comparison across suite versions (the cases themselves differ) unless forced. */
export function checkComparable(diffs: KernelDiff[], force: boolean): void {
  for (const d of diffs) {
    const refused = fingerprintDiff(d.base.fingerprint, d.cand.fingerprint).filter((f) => REFUSE.includes(f.field));
    if (refused.length && !force) {
      throw new InputError(
        `${kernelTitle(d.base, [d.base, d.cand])} and ${kernelTitle(d.cand, [d.base, d.cand])} ran different suites (${refused.map((f) => f.text).join('; ')}); rerun the baseline, or pass --allow-mismatch`,
      );
    }
  }
}

/** Kernels of the baseline that the candidate lacks: MISS, and the gate fails (a kernel's job died). */
export function missingKernels(base: Results, cand: Results): KernelResult[] {
  if (base.kernels.length === 1 && cand.kernels.length === 1) return [];
  return base.kernels.filter((b) => !cand.kernels.some((c) => c.spec === b.spec));
}

export const gateFails = (diffs: KernelDiff[], missing: KernelResult[] = []) =>
  missing.length > 0 || diffs.some((d) => d.crashes.length > 0 || d.changes.some((c) => c.class === 'unexplained'));

const esc = (s: string) => s.replace(/\|/g, '\\|');

export function renderDiff(diffs: KernelDiff[], missing: KernelResult[] = []): string {
  const lines: string[] = [];
  for (const k of missing) lines.push(`## ${esc(kernelTitle(k))}: MISS`, '', 'In the baseline, absent from the candidate: its run never reported.', '');
  for (const d of diffs) {
    const n = (k: ChangeClass) => d.changes.filter((c) => c.class === k).length;
    const pair = [d.base, d.cand];
    lines.push(`## ${esc(kernelTitle(d.base, pair))} → ${esc(kernelTitle(d.cand, pair))}`, '');
    lines.push(
      `${d.changes.length} changed cells: ${n('unexplained')} unexplained, ${n('expected')} expected, ${n('accepted')} accepted.${d.crashes.length ? ` ${d.crashes.length} crash(es).` : ''}`,
    );
    if (d.environment.length) lines.push('', `Environment differs: ${d.environment.join('; ')}.`);
    if (d.changes.length) {
      lines.push('', '| case | baseline | candidate | class | why |', '|---|---|---|---|---|');
      const order: ChangeClass[] = ['unexplained', 'accepted', 'expected'];
      for (const k of order)
        for (const c of d.changes.filter((x) => x.class === k)) lines.push(`| ${c.id} | ${esc(c.base)} | ${esc(c.cand)} | ${k} | ${esc(c.why)} |`);
    }
    if (d.crashes.length) lines.push('', '### Crashes', '', ...d.crashes.map((c) => `- ${esc(c)}`));
    lines.push('');
  }
  lines.push(gateFails(diffs, missing) ? '**Gate: FAIL** (an unexplained change, a crash or a missing kernel)' : '**Gate: pass**');
  return `${lines.join('\n')}\n`;
}

/** The whole gate: pair the kernels, diff each pair, refuse a suite-version mismatch unless
 * forced, and the Markdown summary with whether the gate fails. */
export function gate(
  base: Results,
  cand: Results,
  x: Expectations | null,
  allow: ReturnType<typeof parseAllowlist>,
  force = false,
): { diffs: KernelDiff[]; markdown: string; fails: boolean } {
  const diffs = pairKernels(base, cand).map(([b, c]) => diffKernels(b, c, x, allow));
  checkComparable(diffs, force);
  const missing = missingKernels(base, cand);
  return { diffs, markdown: renderDiff(diffs, missing), fails: gateFails(diffs, missing) };
}
