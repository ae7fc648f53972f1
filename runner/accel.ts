// Which accelerator to use: KVM where the CPU has vmx/svm and /dev/kvm opens; TCG
// otherwise. A KVM guest that does not boot falls back to TCG (see guest.ts).
import { accessSync, constants, readFileSync } from 'node:fs';
import type { Accel } from './qemu.js';

export type AccelChoice = Accel | 'auto';

export function kvmCandidate(cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')): string | null {
  if (!/^flags\s*:.*\b(vmx|svm)\b/m.test(cpuinfo)) return 'no vmx/svm CPU flag';
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/kvm not usable';
  }
  return null;
}

/** The accelerators to try, in order, with the reason KVM was left out. */
export function accelPlan(choice: AccelChoice): { order: Accel[]; why: string } {
  if (choice !== 'auto') return { order: [choice], why: `${choice} requested` };
  const no = kvmCandidate();
  return no ? { order: ['tcg'], why: `no usable KVM on this host (${no})` } : { order: ['kvm', 'tcg'], why: 'KVM available' };
}
