// The suite families the guest entry point can run. Names only: the host imports this.
export const FAMILIES = ['zap', 'populate', 'mremap', 'advice', 'resv'] as const;
export type Family = (typeof FAMILIES)[number];
export const isFamily = (s: string): s is Family => (FAMILIES as readonly string[]).includes(s);
