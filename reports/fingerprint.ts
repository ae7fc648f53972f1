// The environment a kernel's results came from, and what differs between two of them.
// Kernel identity (release, config) is what a comparison compares; the rest must match.

export interface Fingerprint {
  release: string;
  kernelId: string; // the exact build (package version or file stamp)
  configHash: string | null; // sha256 of the kernel's .config, when the build ships one
  cmdline: string; // /proc/cmdline in the guest
  pools: Record<string, number>; // huge pages obtained per size ("2048kB": 64)
  pageSize: number;
  accel: string;
  qemu: string;
  node: string;
  suiteVersion: string; // hash of the guest programs and the addon source (not the expectation table)
}

/** Fields two results must share to be compared, each with how a difference is named. */
const ENVIRONMENT: (keyof Fingerprint)[] = ['suiteVersion', 'accel', 'pageSize', 'pools', 'qemu', 'node'];
// A different suite observes different things: comparing across it is refused, not warned.
export const REFUSE: (keyof Fingerprint)[] = ['suiteVersion'];

const show = (v: unknown) => (typeof v === 'object' ? JSON.stringify(v) : String(v));

/** One phrase per environment field that differs ("accel: tcg → kvm"). */
export function fingerprintDiff(a: Fingerprint | undefined, b: Fingerprint | undefined): { field: keyof Fingerprint; text: string }[] {
  if (!a || !b) return [];
  return ENVIRONMENT.filter((k) => show(a[k]) !== show(b[k])).map((k) => ({ field: k, text: `${k}: ${show(a[k])} → ${show(b[k])}` }));
}
