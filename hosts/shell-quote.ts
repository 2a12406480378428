/**
 * Turning an argument array into one command line for a remote POSIX shell. OpenSSH sends the
 * remote command as one string that the remote user's login shell parses, so every argument must be
 * quoted there exactly once: isobench never builds remote commands by pasting strings.
 */

/** Characters that mean nothing to a POSIX shell: an argument made only of these needs no quotes. */
const PLAIN = /^[A-Za-z0-9_/.,:=@%+-]+$/;

/**
 * One argument quoted for a POSIX shell (sh, dash, bash, zsh): left bare when it holds only
 * PLAIN characters (readable provenance), else in single quotes, each `'` written as `'\''`. An
 * empty argument is `''`, so it survives as an argument. A NUL cannot be passed to any program.
 * @throws Error for an argument holding a NUL character.
 */
export function quoteArgument(argument: string): string {
  if (argument.includes('\0')) throw new Error('an argument cannot hold a NUL character');
  if (PLAIN.test(argument)) return argument;
  return `'${argument.replace(/'/g, `'\\''`)}'`;
}

/** The arguments as one POSIX shell command line that runs exactly that argument array. */
export function quoteCommand(command: readonly string[]): string {
  return command.map(quoteArgument).join(' ');
}
