/** A mistake the user can fix: one clear line, exit code 2, never a stack trace. */
export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class MissingToolError extends UsageError {
  constructor(
    readonly command: string,
    readonly debianPackage: string,
    why: string,
  ) {
    super(`${command} is missing (needed ${why}): install it with \`apt-get install ${debianPackage}\`, or run \`npm run bench\` as root so isobench installs it`);
    this.name = 'MissingToolError';
  }
}
