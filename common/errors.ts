// The two kinds of trouble that are not the kernel's verdict. An InputError is the user's:
// bad input, one line, exit 2. An InfraError is the harness's, naming the phase it happened
// in. Both chain the error that caused them (`cause`), which the CLI's error log prints.
export type Phase = 'fetch' | 'image' | 'boot' | 'ssh' | 'push' | 'run' | 'collect';

export class InputError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InputError';
  }
}

export class InfraError extends Error {
  constructor(
    readonly phase: Phase,
    message: string,
    readonly detail?: string, // e.g. the last console lines
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InfraError';
  }
}
