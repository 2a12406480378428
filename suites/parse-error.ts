import type { z } from 'zod';
import { IsobenchError } from '../core/errors.js';
import { formatZodIssues } from '../core/zod-text.js';

/** A tool printed something isobench does not understand: say which tool and what did not fit. */
export class ToolOutputError extends IsobenchError {
  constructor(
    readonly tool: string,
    details: string,
  ) {
    super(`unexpected ${tool} output: ${details}`);
  }
}

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
