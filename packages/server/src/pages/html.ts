/**
 * A tiny HTML templating layer where escaping is the default: interpolated values are escaped
 * unless they are `SafeHtml` produced by this module. Pages never concatenate raw strings.
 */

const SAFE = Symbol('SafeHtml');

export interface SafeHtml {
  readonly [SAFE]: true;
  readonly value: string;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function isSafe(value: unknown): value is SafeHtml {
  return typeof value === 'object' && value !== null && SAFE in value;
}

export function raw(value: string): SafeHtml {
  return { [SAFE]: true, value };
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | Interpolation[];

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return value.map(render).join('');
  if (isSafe(value)) return value.value;
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<p>${name}</p>\`` escapes `name`. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i += 1) {
    out += render(values[i]) + (strings[i + 1] ?? '');
  }
  return raw(out);
}

/** Replaces `{name}` placeholders of a message with escaped values. */
export function format(message: string, params: Record<string, string | number> = {}): SafeHtml {
  return raw(
    escapeHtml(message).replace(/\{(\w+)\}/g, (match, key: string) =>
      key in params ? escapeHtml(String(params[key])) : match,
    ),
  );
}
