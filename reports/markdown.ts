// matrix.md: rows are case ids, columns are kernels, cells the observation's label.
import { type ChangeGroup, kernelChanges, summaryOf } from './changes.js';
import { type Coverage, coverageSection, loadCoverage } from './coverage.js';
import { guideSection } from './guide.js';
import { KCIDB, kcidbStatus } from './outcome.js';
import { brokenCases, casesById, cellText, kernelEvents, kernelTitle, labelOf, poolLeaks, type Results, verdictCounts } from './results.js';

const esc = (s: string) => s.replace(/\|/g, '\\|');

export function caseIds(r: Results): string[] {
  const ids = new Set<string>();
  for (const k of r.kernels) for (const c of k.cases) ids.add(c.id);
  return [...ids].sort();
}

export function renderMarkdown(r: Results, map: Coverage = loadCoverage()): string {
  const kernels = r.kernels;
  const lines = [
    `# mmatrix run ${r.runId}${r.complete ? '' : ' (incomplete)'}`,
    '',
    `| case | ${kernels.map((k) => esc(kernelTitle(k, kernels))).join(' | ')} |`,
    `|---|${kernels.map(() => '---').join('|')}|`,
  ];
  const byId = kernels.map(casesById);
  for (const id of caseIds(r)) {
    const cells = byId.map((m) => esc(cellText(m.get(id))));
    lines.push(`| ${id} | ${cells.join(' | ')} |`);
  }
  lines.push(
    '',
    '✓ conforms to the expectation table, ✗ deviates from it; a bare label has no expectation; ⚠pool: the case left the hugetlb pool off its baseline; ⚠kernel: the kernel logged trouble or changed its taint during the case.',
  );
  lines.push(
    '',
    '| kernel | source | accel | boot to SSH | huge pages (obtained/requested) | THP | conformant / deviations / no expectation | KCIDB status |',
    '|---|---|---|---|---|---|---|---|',
  );
  for (const k of kernels) {
    const boot = k.bootSeconds === null ? '—' : `${k.bootSeconds.toFixed(2)} s`;
    const pool = `${k.hugepagesObtained ?? '—'}/${k.hugepagesRequested} × ${k.hugePageKb ?? '?'} kB`;
    const v = verdictCounts(k);
    const statuses = KCIDB.map((s) => [s, k.cases.filter((c) => kcidbStatus(c) === s).length] as const).filter(([, n]) => n > 0);
    lines.push(
      `| ${esc(kernelTitle(k, kernels))} | ${esc(`${k.spec} ${k.version}`)} | ${k.accel ?? '—'} | ${boot} | ${pool} | ${k.thp ?? '—'} | ${v.conformant} / ${v.deviation} / ${v.none} | ${statuses.map(([s, n]) => `${n} ${s}`).join(', ')} |`,
    );
  }
  lines.push(...changesSection(r));
  lines.push(...guideSection(r));
  lines.push(...coverageSection(r, map));
  const deviations = kernels.flatMap((k) =>
    k.cases.flatMap((c) =>
      c.verdict?.status === 'deviation'
        ? [`- ${kernelTitle(k, kernels)} ${c.id}: observed \`${labelOf(c)}\`, expected \`${c.verdict.expected}\` (${esc(c.verdict.source)})`]
        : [],
    ),
  );
  if (deviations.length) lines.push('', '## Deviations', '', ...deviations);
  const broken = kernels.flatMap((k) =>
    brokenCases(k).flatMap((c) => [
      `- ${kernelTitle(k, kernels)} ${c.id}: ${c.status.toUpperCase()}: ${esc(c.reason ?? '')}`,
      ...(c.console ? ['  ```', ...c.console.split('\n').map((l) => `  ${l}`), '  ```'] : []),
    ]),
  );
  if (broken.length) lines.push('', '## Crashes and timeouts', '', ...broken);
  const warned = kernels.flatMap((k) =>
    kernelEvents(k).flatMap((c) => {
      const e = c.observation!.kernel!;
      return [
        `- ${kernelTitle(k, kernels)} ${c.id}: taint ${e.taint}${e.log.length ? '' : ' (changed; nothing logged)'}`,
        ...e.log.map((l) => `  - \`${esc(l)}\``),
      ];
    }),
  );
  if (warned.length) lines.push('', '## Kernel warnings and taint', '', ...warned);
  const pool = kernels.flatMap((k) => [
    ...poolLeaks(k).map((c) => `- ${kernelTitle(k, kernels)} ${c.id}: the hugetlb pool did not return to its pre-case baseline`),
    ...(k.poolDrift ?? []).map((d) => `- ${kernelTitle(k, kernels)} after the ${d.after} suite: ${d.drift.join(', ')} against the baseline at boot`),
  ]);
  if (pool.length) lines.push('', '## Hugetlb pool leaks', '', ...pool);
  // Why cells are SKIP, once per reason rather than once per cell.
  const skips = new Map<string, Map<string, number>>();
  for (const k of kernels) {
    for (const c of k.cases.filter((x) => x.status === 'skip')) {
      const byKernel = skips.get(c.reason ?? 'skipped') ?? new Map<string, number>();
      byKernel.set(kernelTitle(k, kernels), (byKernel.get(kernelTitle(k, kernels)) ?? 0) + 1);
      skips.set(c.reason ?? 'skipped', byKernel);
    }
  }
  if (skips.size) {
    lines.push('', '## Skipped', '');
    for (const [reason, byKernel] of skips) lines.push(`- ${esc(reason)}: ${[...byKernel].map(([k, n]) => `${n} on ${k}`).join(', ')}`);
  }
  const errors = kernels.filter((k) => k.error);
  if (errors.length) {
    lines.push('', '## Errors', '');
    for (const k of errors) lines.push(`- ${esc(k.spec)}: ${k.error!.phase}: ${esc(k.error!.message)}`);
  }
  const notes = kernels.flatMap((k) => k.cases.filter((c) => c.status === 'error').map((c) => `- ${kernelTitle(k, kernels)} ${c.id}: ${c.reason}`));
  if (notes.length) lines.push('', '## Case errors', '', ...notes);
  return `${lines.join('\n')}\n`;
}

/** "Changes between kernels": per adjacent pair, one line per commit the explaining entries name
 * (linked, its count, up to three cases; entries citing one commit share its line), then the
 * changes no entry explains. Short enough for a mail; matrix.html keeps the entries apart. */
export function changesSection(r: Results): string[] {
  const pairs = kernelChanges(r);
  if (!pairs.length) return [];
  const out = ['', '## Changes between kernels', ''];
  for (const p of pairs) {
    out.push(`- **${esc(p.from)} → ${esc(p.to)}**: ${p.total} changed cell${p.total === 1 ? '' : 's'}`);
    const byCommit = new Map<string, ChangeGroup>();
    for (const g of p.groups) {
      const key = g.source === null ? '\0none' : (g.commit?.hash ?? g.commit?.title ?? g.source);
      const had = byCommit.get(key);
      // The line shows the commit's title where any of its entries' sources gives one.
      const commit = had?.commit?.title ? had.commit : (g.commit ?? had?.commit ?? null);
      byCommit.set(key, had ? { ...had, commit, changes: [...had.changes, ...g.changes] } : g);
    }
    const lines = [...byCommit.values()].sort((a, b) => Number(a.source === null) - Number(b.source === null) || b.changes.length - a.changes.length);
    for (const g of lines) {
      const some = g.changes.slice(0, 3).map((c) => `\`${c.id}\` ${esc(c.from)} → ${esc(c.to)}`);
      const more = g.changes.length > 3 ? `, and ${g.changes.length - 3} more` : '';
      const why =
        g.source === null
          ? '**no expectation entry explains these**'
          : g.commit?.url
            ? `[${g.commit.hash}](${g.commit.url}) ${esc(g.commit.title || summaryOf(g.source))}`
            : esc(g.commit?.title ?? summaryOf(g.source));
      out.push(`  - ${g.changes.length} × ${why}: ${some.join('; ')}${more}`);
    }
  }
  return out;
}
