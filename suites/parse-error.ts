import type { z } from 'zod';
import { IsobenchError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-text.js';

/** A tool printed something isobench does not understand: say which tool and what did not fit. */
export class ToolOutputError extends IsobenchError {
  /**
   * @param tool The program, e.g. `iperf3`, `perf stat`.
   * @param details What did not fit, quoting the output where it helps.
   */
  constructor(
    readonly tool: string,
    details: string,
  ) {
    super(`unexpected ${tool} output: ${details}`);
  }
}

/**
 * Parses a tool's JSON output and validates it against `schema`.
 * @throws ToolOutputError quoting the first 200 characters when the text is not JSON, or naming
 *   the first field that does not match the schema.
 */
export function parseJsonOutput<Schema extends z.ZodType>(tool: string, text: string, schema: Schema): z.infer<Schema> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ToolOutputError(tool, `not JSON: ${text.trim().slice(0, 200) || '(empty)'}`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    throw new ToolOutputError(tool, formatZodIssues(parsed.error, 1));
  }
  return parsed.data;
}
