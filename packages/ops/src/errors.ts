/** An error a user can cause (unknown op, bad weights file, bad op params): the CLI exits with `exitCode`. */
export class OpsError extends Error {
  readonly exitCode = 2;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OpsError';
  }
}

export class UnknownOpError extends OpsError {
  constructor(
    readonly opName: string,
    readonly registered: string[],
  ) {
    super(`unknown op '${opName}'; registered ops: ${registered.join(', ')}`);
    this.name = 'UnknownOpError';
  }
}

export class DuplicateOpError extends OpsError {
  constructor(
    readonly opName: string,
    readonly existingOwner: string,
    readonly newOwner: string,
  ) {
    super(
      `op '${opName}' is already registered in this container by '${existingOwner}'; ` +
        `'${newOwner}' cannot register it again (register it in a child container to override)`,
    );
    this.name = 'DuplicateOpError';
  }
}

/** A state map or weights file that does not fit the model (missing, extra or mis-shaped tensor). */
export class StateError extends OpsError {
  constructor(message: string) {
    super(message);
    this.name = 'StateError';
  }
}
