/** Small text helpers shared by the layers, written as loops where a regular expression would backtrack. */

/**
 * `text` without the trailing characters that are in `chars` (e.g. trailing slashes). A loop,
 * because `/\/+$/` and the like retry at every start position: quadratic on a long run.
 */
export function trimTrailing(text: string, chars: string): string {
  let end = text.length;
  while (end > 0 && chars.includes(text[end - 1] as string)) end--;
  return text.slice(0, end);
}
