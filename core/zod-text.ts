/**
 * One way to say why zod rejected something, for messages that end up in front of a user: the
 * first few issues as `path: message`, so a malformed results file or tool output points at the field.
 */

/** What formatZodIssues reads of an error: a ZodError (zod 3 or 4) fits it. */
export interface ZodIssuesLike {
  readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>;
}

/**
 * `a.b: Expected number, received string; c: Required` — the first `max` issues (default 3), each as
 * its dotted path (`(root)` for the value itself) and zod's message, joined by `; `. An error without
 * issues gives `invalid`. Never throws.
 */
export function formatZodIssues(error: ZodIssuesLike, max = 3): string {
  const shown = error.issues.slice(0, Math.max(1, max)).map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  return shown.length > 0 ? shown.join('; ') : 'invalid';
}
