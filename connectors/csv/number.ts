/**
 * Decimal numbers in CSV cells, read in one pass.
 *
 * The grammar is the one mscr has always accepted: an optional sign, digits with an optional
 * fraction (`12`, `12.`, `12.5`) or a fraction alone (`.5`), then an optional exponent
 * (`e-3`). It used to be the pattern `/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/`, which
 * backtracks quadratically on a long run of digits (a 100 KB cell blocked the event loop for
 * 19 s); this scanner looks at each character once.
 */

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57; // '0'..'9'
}

/** The index after a run of digits starting at `from`. */
function skipDigits(text: string, from: number): number {
  let i = from;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  return i;
}

/** True when the whole of `text` is a decimal number in the grammar above. */
export function isDecimal(text: string): boolean {
  let i = 0;
  const sign = text.charCodeAt(0);
  if (sign === 43 || sign === 45) i++; // '+' | '-'
  const integerEnd = skipDigits(text, i);
  let hasDigits = integerEnd > i;
  i = integerEnd;
  if (text.charCodeAt(i) === 46) {
    // '.'
    const fractionEnd = skipDigits(text, i + 1);
    hasDigits ||= fractionEnd > i + 1;
    i = fractionEnd;
  }
  if (!hasDigits) return false;
  const e = text.charCodeAt(i);
  if (e === 101 || e === 69) {
    // 'e' | 'E'
    i++;
    const expSign = text.charCodeAt(i);
    if (expSign === 43 || expSign === 45) i++;
    const exponentEnd = skipDigits(text, i);
    if (exponentEnd === i) return false;
    i = exponentEnd;
  }
  return i === text.length;
}

/** The value of a decimal cell, or `undefined` when it is not one. May be ±Infinity for huge exponents. */
export function parseDecimal(text: string): number | undefined {
  return isDecimal(text) ? Number(text) : undefined;
}
