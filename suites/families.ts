// The suite families the guest entry point can run. Names only: the host imports this.
export const FAMILIES = ['zap', 'populate', 'mremap', 'advice', 'resv', 'vma', 'uffd'] as const;
// Families that break the guest on purpose, for mmatrix's own tests of crash and hang
// handling; accepted only with MMATRIX_TEST_FAMILIES=1 in the environment.
export const TEST_FAMILIES = ['panic', 'hang'] as const;
// Families the host runs itself, not the guest's node process; asked for by name (-s), never
// by default: kselftest builds the kernel's own mm selftests from each kernel's tree.
export const HOST_FAMILIES = ['kselftest'] as const;
export type Family = (typeof FAMILIES)[number] | (typeof TEST_FAMILIES)[number] | (typeof HOST_FAMILIES)[number];
export type GuestFamily = Exclude<Family, (typeof HOST_FAMILIES)[number]>;
export const isHostFamily = (s: string): boolean => (HOST_FAMILIES as readonly string[]).includes(s);
export const testFamiliesOn = () => process.env.MMATRIX_TEST_FAMILIES === '1';
export const isFamily = (s: string): s is Family =>
  (FAMILIES as readonly string[]).includes(s) || isHostFamily(s) || (testFamiliesOn() && (TEST_FAMILIES as readonly string[]).includes(s));
