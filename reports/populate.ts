// Seed 004's populate table per kernel (populate.md / populate.json): the figures in the seed's
// layout, each also as a ratio to the backing's plain Write, the seed's own figures beside them,
// and the seed's conclusions as checks that hold or not on each kernel, and on the seed's own
// figures. Pure: the bench (runner/popbench.ts) measures, this renders.
import { readFileSync } from 'node:fs';
import { fromRoot } from '../common/paths.js';
import type { PopulateFigure } from '../guest/protocol.js';

export type Figure = PopulateFigure;
const MIB = 2 ** 20;

/** The seed's figures from its own text (suites/populate-seed004.txt). */
export function parseSeedFigures(text: string): Figure[] {
  const out: Figure[] = [];
  let size = 0;
  let shared = false;
  for (const line of text.split('\n')) {
    const head = /^(\d+) MiB MAP_(PRIVATE|SHARED):/.exec(line);
    if (head) {
      size = Number(head[1]) * MIB;
      shared = head[2] === 'SHARED';
      continue;
    }
    const m = /^(.+?)\s*:\s*(\S+)\s*:\s*([\d.]+) ms$/.exec(line);
    if (m && size) out.push({ size, shared, backing: m[1].trim(), method: m[2], ms: Number(m[3]) });
  }
  return out;
}

export const seedFigures = (): Figure[] => parseSeedFigures(readFileSync(fromRoot('suites/populate-seed004.txt'), 'utf8'));

const FOUR_K = ['Anon 4 KiB', 'Memfd 4 KiB', 'tmpfs', 'file'];

/** One of the seed's conclusions (sections V.1 and V.2), as comparisons that must all hold on
 * each backing it speaks of: `[a, b]` means a is faster than b. */
interface Check {
  id: string;
  says: string; // the seed's words
  shared: boolean;
  backings: string[];
  faster: [string, string][];
}

export const CHECKS: Check[] = [
  {
    id: 'V.1 populate fastest',
    says: 'POPULATE_READ and POPULATE_WRITE is fastest',
    shared: false,
    backings: FOUR_K,
    faster: [
      ['POPULATE_READ', 'Read'],
      ['POPULATE_WRITE', 'Write'],
      ['POPULATE_WRITE', 'Read/Write'],
    ],
  },
  {
    id: 'V.1 POPULATE_WRITE allocates fastest',
    says: 'The fastest way to allocate backend storage (here: swap or huge pages) and prefault page tables is POPULATE_WRITE',
    shared: false,
    backings: FOUR_K,
    faster: [
      ['POPULATE_WRITE', 'Write'],
      ['POPULATE_WRITE', 'Read/Write'],
    ],
  },
  {
    id: 'V.2 fallocate fastest',
    says: "fallocate() is fastest, however, doesn't prefault page tables",
    shared: true,
    backings: ['Memfd 4 KiB', 'tmpfs', 'file'],
    faster: ['Read', 'Write', 'Read/Write', 'POPULATE_READ', 'POPULATE_WRITE'].map((m) => ['FALLOCATE', m] as [string, string]),
  },
  {
    id: 'V.2 POPULATE_WRITE beats writes',
    says: 'POPULATE_WRITE is faster than simple writes and read/writes',
    shared: true,
    backings: FOUR_K,
    faster: [
      ['POPULATE_WRITE', 'Write'],
      ['POPULATE_WRITE', 'Read/Write'],
    ],
  },
  {
    id: 'V.2 POPULATE_READ beats reads',
    says: 'POPULATE_READ is faster than simple reads',
    shared: true,
    backings: FOUR_K,
    faster: [['POPULATE_READ', 'Read']],
  },
  {
    id: 'V.2 with an fd, FALLOCATE+POPULATE',
    says: 'With an fd, the fastest way is usually FALLOCATE+POPULATE_READ or FALLOCATE+POPULATE_WRITE respectively',
    shared: true,
    backings: ['Memfd 4 KiB', 'tmpfs'],
    faster: [
      ['FALLOCATE+POPULATE_READ', 'FALLOCATE+Read'],
      ['FALLOCATE+POPULATE_WRITE', 'FALLOCATE+Write'],
      ['FALLOCATE+POPULATE_WRITE', 'FALLOCATE+Read/Write'],
    ],
  },
  {
    id: 'V.2 files: FALLOCATE+Read',
    says: 'one exception are actual files: FALLOCATE+Read is slightly faster than FALLOCATE+POPULATE_READ',
    shared: true,
    backings: ['file'],
    faster: [['FALLOCATE+Read', 'FALLOCATE+POPULATE_READ']],
  },
  {
    id: 'V.2 files: FALLOCATE+POPULATE_READ fastest',
    says: 'except when dealing with actual files; then, FALLOCATE+POPULATE_READ is fastest',
    shared: true,
    backings: ['file'],
    faster: [
      ['FALLOCATE+POPULATE_READ', 'FALLOCATE+POPULATE_WRITE'],
      ['FALLOCATE+POPULATE_READ', 'FALLOCATE+Write'],
      ['FALLOCATE+POPULATE_READ', 'FALLOCATE+Read/Write'],
    ],
  },
];

export interface CheckResult {
  id: string;
  says: string;
  size: number;
  holds: boolean | 'close' | null; // close: some comparison within the margin; null: a figure is missing
  against: string[]; // the comparisons that failed (or, when close, came within the margin), with their figures
}

/** "a is faster than b" holds when a < (1 - MARGIN) b and fails when a > (1 + MARGIN) b; in
 * between it is too close to call: these machines drift, and many of the seed's own gaps are that small. */
export const MARGIN = 0.05;

const figureOf = (fs: Figure[], size: number, shared: boolean, backing: string, method: string) =>
  fs.find((f) => f.size === size && f.shared === shared && f.backing === backing && f.method === method)?.ms ?? null;

/** Each check on one set of figures at one size. */
export function evaluate(fs: Figure[], size: number): CheckResult[] {
  return CHECKS.map((c) => {
    const against: string[] = [];
    const close: string[] = [];
    let missing = false;
    for (const b of c.backings) {
      for (const [x, y] of c.faster) {
        const [a, z] = [figureOf(fs, size, c.shared, b, x), figureOf(fs, size, c.shared, b, y)];
        if (a === null || z === null) missing = true;
        else if (a > z * (1 + MARGIN)) against.push(`${b}: ${x} ${ms(a)} > ${y} ${ms(z)}`);
        else if (a >= z * (1 - MARGIN)) close.push(`${b}: ${x} ${ms(a)} ≈ ${y} ${ms(z)}`);
      }
    }
    const holds = against.length ? false : missing ? null : close.length ? 'close' : true;
    return { id: c.id, says: c.says, size, holds, against: against.length ? against : close };
  });
}

const ms = (v: number) => `${v.toFixed(3)} ms`;
const mib = (b: number) => `${b / MIB} MiB`;

export interface KernelFigures {
  release: string;
  figures: Figure[];
  runs: number;
}

/** The seed's size beside one of ours: the same, or its larger one (4096 MiB) for anything above 2 MiB. */
export const seedSizeFor = (size: number): number => (size <= 2 * MIB ? 2 * MIB : 4096 * MIB);

const ratio = (fs: Figure[], f: Figure) => {
  const w = figureOf(fs, f.size, f.shared, f.backing, 'Write');
  return f.ms === null || w === null || w === 0 ? '' : `${(f.ms / w).toFixed(2)}`;
};

/** A conclusion that holds on some kernels and not on others, at one size: a finding. */
export function findings(kernels: KernelFigures[], sizes: number[]): string[] {
  const out: string[] = [];
  for (const size of sizes) {
    const per = kernels.map((k) => ({ k, r: evaluate(k.figures, size) }));
    for (const c of CHECKS) {
      const yes = per.filter((p) => p.r.find((x) => x.id === c.id)?.holds === true).map((p) => p.k.release);
      const no = per.filter((p) => p.r.find((x) => x.id === c.id)?.holds === false).map((p) => p.k.release);
      if (yes.length && no.length) out.push(`${mib(size)}: "${c.says}" holds on ${yes.join(', ')} and not on ${no.join(', ')}`);
    }
  }
  return out;
}

export function populateMarkdown(kernels: KernelFigures[], seed: Figure[], machine: string): string {
  const sizes = [...new Set(kernels.flatMap((k) => k.figures.map((f) => f.size)))].sort((a, b) => a - b);
  const lines = [
    "# Seed 004's populate table, per kernel",
    '',
    `The experiment of the MADV_POPULATE_(READ|WRITE) patch (seed 004, section V): prefault an empty mapping or file with each method, the shortest of ${kernels[0]?.runs ?? 10} runs. ${machine}`,
    '',
    `Absolute times under TCG are not comparable with the seed's machine (its 2021 bare-metal figures); the ratios (to the same backing's plain Write, 1.00) and the conclusions are. The seed's sizes were 2 MiB and 4096 MiB; larger sizes here are set beside its 4096 MiB. "Faster" means by more than ${MARGIN * 100} %; a gap within that is too close to call.`,
  ];
  const find = findings(kernels, sizes);
  lines.push(
    '',
    '## Conclusions that hold on one kernel and not on another',
    '',
    ...(find.length ? find.map((f) => `- ${f}`) : ['- none: every conclusion came out the same on every kernel']),
  );
  lines.push(
    '',
    "## The seed's conclusions, checked",
    '',
    `| conclusion | size | seed's figures | ${kernels.map((k) => k.release).join(' | ')} |`,
    `|---|---|---|${kernels.map(() => '---').join('|')}|`,
  );
  const first = (r: CheckResult) => `${r.against[0]}${r.against.length > 1 ? `, +${r.against.length - 1}` : ''}`;
  const word = (r: CheckResult | undefined) =>
    !r || r.holds === null ? '—' : r.holds === 'close' ? `too close to call (${first(r)})` : r.holds ? 'holds' : `**does not hold** (${first(r)})`;
  for (const size of sizes) {
    const seedR = evaluate(seed, seedSizeFor(size));
    const perK = kernels.map((k) => evaluate(k.figures, size));
    for (const [i, c] of CHECKS.entries()) lines.push(`| ${c.says} | ${mib(size)} | ${word(seedR[i])} | ${perK.map((r) => word(r[i])).join(' | ')} |`);
  }
  for (const k of kernels) {
    lines.push('', `## ${k.release}`);
    for (const size of sizes) {
      for (const shared of [false, true]) {
        lines.push(
          '',
          `### ${mib(size)} MAP_${shared ? 'SHARED' : 'PRIVATE'} (seed: ${mib(seedSizeFor(size))})`,
          '',
          '| backing | method | ms | ratio to Write | seed ms | seed ratio |',
          '|---|---|---|---|---|---|',
        );
        for (const f of k.figures.filter((x) => x.size === size && x.shared === shared)) {
          const s = seed.find((x) => x.size === seedSizeFor(size) && x.shared === shared && x.backing === f.backing && x.method === f.method);
          const own = f.ms === null ? `— (${f.error ?? 'failed'})` : f.ms.toFixed(3);
          lines.push(`| ${f.backing} | ${f.method} | ${own} | ${ratio(k.figures, f)} | ${s?.ms?.toFixed(3) ?? '—'} | ${s ? ratio(seed, s) : ''} |`);
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}
