/**
 * Every string that came from a results file is untrusted: a host name, a label or an error
 * message may hold markup. These are the only ways text reaches the page.
 */
const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text (any value, stringified) escaped for element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] ?? character);
}

/**
 * JSON placed inside a <script type="application/json"> element: `<` could close the element
 * (`</script>`) or open a comment, and U+2028/9 break older parsers; escaping them keeps the JSON
 * equal to the original when parsed.
 */
export function jsonForScriptElement(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Markup that is already escaped or trusted, which {@link html} inlines as is. */
export class SafeHtml {
  constructor(readonly html: string) {}
  /** The markup, so a SafeHtml can be concatenated into a string. */
  toString(): string {
    return this.html;
  }
}

/**
 * A tagged template whose interpolations are escaped unless they are already `SafeHtml`. Arrays
 * are joined without separator; null, undefined and false render as nothing, so conditional parts
 * can be written inline.
 */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += renderValue(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

function renderValue(value: unknown): string {
  if (value instanceof SafeHtml) return value.html;
  if (Array.isArray(value)) return value.map(renderValue).join('');
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(value);
}

/** Marks trusted markup (made here, e.g. vega's SVG after its own escaping) as safe to inline. */
export function trusted(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
