// Character offsets from the `tokenizers` package count Unicode code points
// (as Python's do); JavaScript strings index UTF-16 code units. For text with
// characters outside the BMP (emoji, rare CJK) the two differ, so offsets are
// mapped to code units: `text.slice(start, end)` then gives the token's text.

/**
 * Returns a function mapping a code-point offset in `text` to a UTF-16 offset,
 * or undefined when the two coincide (no surrogate pairs in `text`).
 */
export function codePointToUtf16(text: string): ((offset: number) => number) | undefined {
  if (!/[\uD800-\uDFFF]/.test(text)) return undefined;
  const table: number[] = [];
  let unit = 0;
  for (const char of text) {
    table.push(unit);
    unit += char.length;
  }
  table.push(unit);
  return (offset) => table[Math.min(offset, table.length - 1)];
}
