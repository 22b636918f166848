/**
 * TF Serving's JSON dialect: its REST API reads and writes the non-standard number tokens
 * `NaN`, `Infinity` and `-Infinity` (api_rest.md: "JSON ... does not support NaN or Infinity;
 * TF Serving accepts and returns them as extensions"). `JSON.parse` rejects them, and
 * `JSON.stringify` turns them into `null`, so V1 bodies go through these two functions.
 *
 * Parsing costs nothing extra for standard JSON: only a body `JSON.parse` rejects is scanned,
 * once, turning the bare tokens (outside strings) into tagged strings that a reviver turns
 * back into numbers. The tag carries a random part fixed per process, so no string a client
 * sends can pass for one.
 */
import { randomUUID } from 'node:crypto';
import { MscrError } from '../../connectors/errors.ts';

const TAG = `__mscr_nonfinite_${randomUUID().replaceAll('-', '')}_`;
const TOKENS = ['NaN', 'Infinity', '-Infinity'] as const;
const VALUE: Record<(typeof TOKENS)[number], number> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

/** The text with each bare `NaN` / `Infinity` / `-Infinity` token quoted as a tagged string. */
function quoteTokens(text: string): { text: string; found: boolean } {
  let out = '';
  let from = 0;
  let found = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included; an unterminated one is left to JSON.parse.
      i++;
      while (i < text.length && text.charCodeAt(i) !== 0x22)
        i += text.charCodeAt(i) === 0x5c ? 2 : 1;
      i++;
      continue;
    }
    const token = TOKENS.find((t) => text.startsWith(t, i));
    if (token !== undefined) {
      out += `${text.slice(from, i)}"${TAG}${token}"`;
      i += token.length;
      from = i;
      found = true;
      continue;
    }
    i++;
  }
  return { text: out + text.slice(from), found };
}

/** A V1 request body -> its value, with TF Serving's non-finite number tokens accepted. */
export function parseTfServingJson(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.length === 0)
    throw new MscrError('bad_request', 'the request body is empty: send a JSON object');
  try {
    return JSON.parse(text);
  } catch (error) {
    const quoted = quoteTokens(text);
    if (quoted.found) {
      try {
        return JSON.parse(quoted.text, (_key, value: unknown) =>
          typeof value === 'string' && value.startsWith(TAG)
            ? VALUE[value.slice(TAG.length) as keyof typeof VALUE]
            : value,
        );
      } catch {
        // Not JSON with the tokens either: report the original parse error.
      }
    }
    throw new MscrError(
      'bad_request',
      `the request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/** A non-finite output value as the V1 encoder stores it until `stringifyTfServingJson`. */
export function nonFiniteMarker(value: number): string {
  return `${TAG}${Number.isNaN(value) ? 'NaN' : value > 0 ? 'Infinity' : '-Infinity'}`;
}

const MARKER = new RegExp(`"${TAG}(NaN|Infinity|-Infinity)"`, 'g');

/** A V1 answer -> JSON text, markers written as TF Serving's bare tokens. */
export function stringifyTfServingJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes(TAG) ? text.replace(MARKER, '$1') : text;
}
