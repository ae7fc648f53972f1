// The test-only families: one case in the middle that panics the kernel (sysrq 'c') or
// hangs (never returns), between two harmless probes; the panic family also logs a WARNING
// and sets a taint bit, as a kernel WARN would. mmatrix's tests check that the probe
// before is kept, the culprit is marked with its console excerpt, and the probe after runs
// on a fresh guest.
import { writeFileSync } from 'node:fs';
import type { Case } from '../guest/harness.js';
import { type GuestEnv, MEMTYPES } from './memtypes.js';
import { record } from './observe.js';

const anon = MEMTYPES.find((m) => m.id === 'anon-private')!;

const probe = (id: string): Case => ({
  id: `${id}.anon-private`,
  run: () => ({ ...record(id, '', anon, 0, { ret: 0 }, {}), poolBalanced: null, label: 'ok' }),
});

export function panicCases(_env: GuestEnv): Case[] {
  return [
    probe('probe_before'),
    {
      // What a kernel WARN looks like to the harness: a WARNING line in the log, taint bit 9.
      id: 'warn.anon-private',
      run: () => {
        writeFileSync('/dev/kmsg', 'WARNING: mmatrix test warning\n');
        writeFileSync('/proc/sys/kernel/tainted', '512');
        return probe('warn').run();
      },
    },
    {
      id: 'sysrq_crash.anon-private',
      run: () => {
        writeFileSync('/proc/sysrq-trigger', 'c');
        return {};
      },
    },
    probe('probe_after'),
  ];
}

export function hangCases(_env: GuestEnv): Case[] {
  return [
    probe('probe_before'),
    {
      id: 'hang.anon-private',
      run: () => {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // forever
        return {};
      },
    },
    probe('probe_after'),
  ];
}
