/**
 * The one error base of isobench. Every error isobench throws on purpose extends it and carries the
 * process exit code it maps to, so the CLI reads the code from the error instead of keeping a list of
 * classes: 2 for a mistake the user can fix (a bad flag, a missing tool, a malformed results file),
 * 1 for everything that went wrong while running. The message is one line a user can act on; a
 * wrapped error is kept as `cause` (ES2022), never pasted into a stack of strings.
 */
export class IsobenchError extends Error {
  /** The exit code the CLI ends with when this error reaches it: 2 (usage) or 1 (run failure). */
  readonly exitCode: 1 | 2;

  /**
   * @param message One line, no trailing period, saying what happened and, where possible, what to do.
   * @param options `exitCode` defaults to 1; `cause` is the underlying error, if any.
   */
  constructor(message: string, options: { exitCode?: 1 | 2; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** A mistake the user can fix: one clear line, exit code 2, never a stack trace. */
export class UsageError extends IsobenchError {
  /** @param message One line naming the bad input and what to do instead. */
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { exitCode: 2, cause: options.cause });
  }
}

/** A host program isobench needs is not installed; says which Debian package brings it. Exit code 2. */
export class MissingToolError extends UsageError {
  /**
   * @param command The executable looked up on PATH, e.g. `fio`.
   * @param debianPackage The package that provides it, e.g. `fio`.
   * @param why Completes "needed …", e.g. `for the random-io suite`.
   */
  constructor(
    readonly command: string,
    readonly debianPackage: string,
    why: string,
  ) {
    super(`${command} is missing (needed ${why}): install it with \`apt-get install ${debianPackage}\`, or run \`npm run bench\` as root so isobench installs it`);
  }
}

/**
 * One named step of a longer procedure failed ("start dockerd", "boot the guest"): the message says
 * which step and why, the underlying error is `cause`. Subclasses add what the step leaves behind
 * to read (a serial log, a daemon log). Exit code 1.
 */
export class StepError extends IsobenchError {
  /**
   * @param step What was being done, e.g. `create container isobench-docker-nat-…`.
   * @param detail Why it failed, one line.
   * @param options `cause`: the underlying error; `exitCode` for a step whose failure is the user's to fix;
   *   `message` replaces the default `STEP failed: DETAIL` wording where a caller's messages read as a
   *   state ("booting the guest: QEMU exited …") and scripts already match them.
   */
  constructor(
    readonly step: string,
    readonly detail: string,
    options: { cause?: unknown; exitCode?: 1 | 2; message?: string } = {},
  ) {
    super(options.message ?? `${step} failed: ${detail}`, options);
  }
}

/** The message of anything thrown: an Error's message, else its string form. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The exit code an error maps to: its own for an IsobenchError, else 1. */
export function exitCodeOf(error: unknown): 1 | 2 {
  return error instanceof IsobenchError ? error.exitCode : 1;
}
