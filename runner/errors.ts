// Harness trouble, kept apart from kernel verdicts: every infrastructure failure is a
// typed error naming the phase it happened in.
export type Phase = 'fetch' | 'image' | 'boot' | 'ssh' | 'push' | 'run' | 'collect';

export class InfraError extends Error {
  constructor(
    readonly phase: Phase,
    message: string,
    readonly detail?: string, // e.g. the last console lines
  ) {
    super(message);
    this.name = 'InfraError';
  }
}
