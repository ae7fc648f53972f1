// `mmatrix bench --populate`: seed 004's experiment in one guest per kernel (suites/popbench.ts
// in the guest), rendered by reports/populate.ts into populate.md and populate.json.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError } from '../common/errors.js';
import { decodeAnswer, isPopulateFigures } from '../guest/protocol.js';
import { buildImage } from '../images/initramfs.js';
import { prepareKernel } from '../images/kernel.js';
import { scratchDisks } from '../images/scratch.js';
import { type KernelFigures, populateMarkdown, seedFigures } from '../reports/populate.js';
import type { AccelChoice } from './accel.js';
import { accelPlan } from './accel.js';
import { guestBundle } from './bundle.js';
import { Guest } from './guest.js';
import { GUEST_DEFAULTS } from './qemu.js';

export interface PopulateOptions {
  sizesMb: number[];
  runs: number;
  accel: AccelChoice;
  dir: string;
  machine: string; // what the figures came from, for the report's first lines
  log: (s: string) => void;
}

export async function populateBench(specs: string[], o: PopulateOptions): Promise<{ kernels: KernelFigures[]; markdown: string }> {
  const accel = accelPlan(o.accel).order[0];
  const bundle = guestBundle();
  const kernels: KernelFigures[] = [];
  const seed = seedFigures();
  const save = () => {
    const markdown = populateMarkdown(kernels, seed, o.machine);
    writeFileSync(join(o.dir, 'populate.json'), `${JSON.stringify({ date: new Date().toISOString(), machine: o.machine, accel, kernels, seed }, null, 2)}\n`);
    writeFileSync(join(o.dir, 'populate.md'), markdown);
    return markdown;
  };
  const largest = Math.max(...o.sizesMb);
  for (const spec of specs) {
    const k = await prepareKernel(spec, false, o.log);
    const image = await buildImage(k);
    // 2 MiB pages for twice the largest size (MiB / 2 each), memory for it several times over.
    const hugepages = Math.max(GUEST_DEFAULTS.hugepages, largest + 2);
    const g = await Guest.boot(k, image, {
      accel,
      memoryMb: Math.max(GUEST_DEFAULTS.memoryMb, 4 * largest + 1024),
      hugepages,
      bootTimeoutMs: GUEST_DEFAULTS.bootTimeoutS * 1000,
      consoleLog: join(o.dir, `${k.id}.populate.console.log`),
      disks: await scratchDisks(),
    });
    try {
      await g.push(bundle);
      const t0 = performance.now();
      const r = await g.ask({ kind: 'populate', sizes: o.sizesMb.map((m) => m * 2 ** 20), runs: o.runs }, { timeoutMs: 3600_000 });
      const figures = r.ended === 'exit' && r.code === 0 ? decodeAnswer(r.stdout, isPopulateFigures) : null;
      if (!figures) throw new InfraError('run', `${k.release}: the populate experiment gave no figures (${r.ended} ${r.code ?? ''})`, r.stderr.trim());
      o.log(`${k.release}: populate experiment, ${figures.figures.length} figures in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      kernels.push({ release: k.release, figures: figures.figures, runs: figures.runs });
    } finally {
      await g.close();
    }
    save();
  }
  return { kernels, markdown: save() };
}
