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

/** Longest piece of a tool's output an error message quotes, in characters. */
export const QUOTE_LIMIT = 200;

/**
 * `text` as one quotable line: whitespace runs (newlines included) folded to one space, cut to
 * `limit` characters with `…`, and `(empty)` for nothing, so an error message stays one line.
 */
export function quoteOutput(text: string, limit = QUOTE_LIMIT): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '(empty)';
  return line.length > limit ? `${line.slice(0, limit)}…` : line;
}

/** Where the first complete JSON object of a stream lies, and what follows it. */
export interface JsonDocumentSpan {
  /** The object's text, from its `{` to the matching `}`. */
  json: string;
  /** Offset of the `{` in the stream: what lies before it is a tool's notes. */
  start: number;
  /** Whatever follows the object (a second copy, a trailing warning), trimmed; `''` for nothing. */
  trailing: string;
}

/**
 * Finds the first complete JSON object in a tool's output stream. The object must begin at the
 * start of a line (after optional blanks): fio may print notes (`fio: …`) before its JSON, and
 * iperf3 3.16–3.17 print the whole `--json` document twice (esnet/iperf issues 1688 and 1716), so
 * the stream is judged on its first complete object and anything after it is ignored. Braces inside
 * JSON strings (with `\"` escapes) do not count.
 * @returns The span of the first object whose braces balance; null when no line starts an object.
 * @throws ToolOutputError (as `tool`) when an object starts but never closes: the stream was cut
 *   short; the message quotes its end.
 */
export function firstJsonDocument(tool: string, text: string): JsonDocumentSpan | null {
  const opening = /^[ \t]*\{/m.exec(text);
  if (!opening) return null;
  const start = opening.index + opening[0].length - 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let index = start; index < text.length; index += 1) {
    const character = text[index];
    if (inString) {
      if (escaped) escaped = false;
      else if (character === '\\') escaped = true;
      else if (character === '"') inString = false;
      continue;
    }
    if (character === '"') inString = true;
    else if (character === '{' || character === '[') depth += 1;
    else if (character === '}' || character === ']') {
      depth -= 1;
      if (depth === 0) return { json: text.slice(start, index + 1), start, trailing: text.slice(index + 1).trim() };
    }
  }
  throw new ToolOutputError(tool, `JSON cut short after ${text.length - start} characters, ending: ${quoteOutput(text.slice(-80))}`);
}

/**
 * Parses a tool's JSON output, judged on its first complete object ({@link firstJsonDocument}),
 * and validates it against `schema`.
 * @throws ToolOutputError quoting the first 200 characters when no line starts a JSON object, the
 *   end of the text when the object is cut short, JSON.parse's words and the text around the
 *   position it names when the object is not valid JSON, or the first field that does not match the schema with the
 *   value found there.
 */
export function parseJsonOutput<Schema extends z.ZodType>(tool: string, text: string, schema: Schema): z.infer<Schema> {
  return validateToolJson(tool, parseFirstJson(tool, text), schema);
}

/**
 * Validates a tool's parsed JSON against `schema`.
 * @throws ToolOutputError naming the first field that does not match and the value found there.
 */
export function validateToolJson<Schema extends z.ZodType>(tool: string, data: unknown, schema: Schema): z.infer<Schema> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new ToolOutputError(tool, describeMismatch(parsed.error, data));
  return parsed.data;
}

/**
 * The first complete JSON object of a tool's output, parsed but not validated.
 * @throws ToolOutputError as {@link parseJsonOutput} does, schema aside.
 */
export function parseFirstJson(tool: string, text: string): unknown {
  const span = firstJsonDocument(tool, text);
  if (!span) throw new ToolOutputError(tool, `not JSON: ${quoteOutput(text)}`);
  try {
    return JSON.parse(span.json);
  } catch (error) {
    // Node 20's JSON.parse names a position but not always the text there: quote it.
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message);
    const near = position ? ` near: ${quoteOutput(span.json.slice(Math.max(0, Number(position[1]) - 40), Number(position[1]) + 40), 80)}` : '';
    throw new ToolOutputError(tool, `not JSON: ${quoteOutput(message)}${near}`);
  }
}

/**
 * The first issue as `path: message`, then the value found at that path (JSON, cut to 80
 * characters), e.g. `end.sum_received.bytes: Invalid input: expected number, received string (found "12 GB")`.
 */
function describeMismatch(error: z.ZodError, data: unknown): string {
  const issue = error.issues[0];
  const text = formatZodIssues(error, 1);
  if (!issue) return text;
  let value: unknown = data;
  for (const key of issue.path) {
    if (value === null || typeof value !== 'object') {
      value = undefined;
      break;
    }
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return `${text} (found ${value === undefined ? 'nothing' : quoteOutput(JSON.stringify(value), 80)})`;
}
