// Text cleaning for corpus preparation, in this order: HTML (scripts, styles,
// comments and tags removed, then entities decoded, so "&lt;b&gt;" stays as
// the text "<b>"), Unicode NFKC, control characters, whitespace runs, then
// the length filter. The result is one line: newlines always become spaces,
// since a prepared corpus holds one example a line. Pure functions.

/** Options of {@link cleanText}. */
export interface CleanOptions {
  /**
   * Remove HTML tags, comments, `<script>`/`<style>` blocks and decode entities.
   * @default true
   */
  html?: boolean;
  /**
   * Unicode NFKC normalization (full-width forms, ligatures, compatibility characters).
   * @default true
   */
  nfkc?: boolean;
  /**
   * Remove control characters (C0/C1 other than whitespace), zero-width spaces,
   * byte order marks, lone surrogates and non-characters. Zero-width joiners
   * stay: emoji sequences and some scripts need them.
   * @default true
   */
  controlChars?: boolean;
  /**
   * Turn every run of whitespace into one space and trim the ends.
   * @default true
   */
  collapseWhitespace?: boolean;
  /**
   * Drop texts with fewer characters (code points) after cleaning.
   * @default 1
   */
  minLength?: number;
  /**
   * Drop texts with more characters (code points) after cleaning.
   * @default Infinity
   */
  maxLength?: number;
}

/** Why {@link cleanText} dropped a text. */
export type DropReason = 'empty' | 'too_short' | 'too_long';

/** The cleaned text, or why it was dropped. */
export type CleanResult = { text: string; dropped?: undefined } | { dropped: DropReason; text?: undefined };

const BLOCKS = /<(script|style)\b[^>]*>[\s\S]*?<\/\1\s*>/gi;
const COMMENTS = /<!--[\s\S]*?(?:-->|$)/g;
const DECLARATIONS = /<[!?][^<>]*>/g;
// A tag must start like one ("<p", "</div", "<br/>"), so "a < b > c" survives.
const TAGS = /<\/?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?\/?>/g;
const ENTITY = /&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z][A-Za-z0-9]{1,31}));/g;
// C0/C1 controls except whitespace, U+200B, U+FEFF, lone surrogates, U+FFFE/U+FFFF.
const CONTROL =
  /[\u0000-\u0008\u000E-\u001F\u007F-\u0084\u0086-\u009F\u200B\uFEFF\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const WHITESPACE = /\s+/g;
const LINE_BREAKS = /[\n\r\u0085\u2028\u2029]/g;

// The named entities seen in web text; others are left as written.
const NAMED: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00A0', shy: '\u00AD',
  ndash: '\u2013', mdash: '\u2014', hellip: '\u2026', bull: '\u2022', middot: '\u00B7',
  lsquo: '\u2018', rsquo: '\u2019', sbquo: '\u201A', ldquo: '\u201C', rdquo: '\u201D', bdquo: '\u201E',
  laquo: '\u00AB', raquo: '\u00BB', lsaquo: '\u2039', rsaquo: '\u203A',
  copy: '\u00A9', reg: '\u00AE', trade: '\u2122', deg: '\u00B0', plusmn: '\u00B1', times: '\u00D7', divide: '\u00F7',
  euro: '\u20AC', pound: '\u00A3', yen: '\u00A5', cent: '\u00A2', sect: '\u00A7', para: '\u00B6',
  iexcl: '\u00A1', iquest: '\u00BF', frac12: '\u00BD', frac14: '\u00BC', frac34: '\u00BE',
  eacute: '\u00E9', egrave: '\u00E8', ecirc: '\u00EA', aacute: '\u00E1', agrave: '\u00E0', acirc: '\u00E2',
  iacute: '\u00ED', oacute: '\u00F3', uacute: '\u00FA', ntilde: '\u00F1', ccedil: '\u00E7',
  auml: '\u00E4', ouml: '\u00F6', uuml: '\u00FC', Auml: '\u00C4', Ouml: '\u00D6', Uuml: '\u00DC', szlig: '\u00DF',
  Eacute: '\u00C9', zwj: '\u200D', zwnj: '\u200C', ensp: '\u2002', emsp: '\u2003', thinsp: '\u2009',
};

function decodeEntity(match: string, decimal?: string, hex?: string, name?: string): string {
  if (name !== undefined) return NAMED[name] ?? match;
  const code = decimal !== undefined ? Number(decimal) : parseInt(hex!, 16);
  // As browsers do: invalid code points become U+FFFD.
  if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\uFFFD';
  return String.fromCodePoint(code);
}

/** Removes HTML markup and decodes character references. */
export function stripHtml(text: string): string {
  if (!text.includes('<') && !text.includes('&')) return text;
  // Tags become spaces so that "end.<p>Start" does not glue two words.
  const plain = text.replace(BLOCKS, ' ').replace(COMMENTS, ' ').replace(DECLARATIONS, ' ').replace(TAGS, ' ');
  return plain.replace(ENTITY, decodeEntity);
}

/** Number of Unicode code points in `text`. */
export function codePointLength(text: string): number {
  let length = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        length--;
        i++;
      }
    }
  }
  return length;
}

/**
 * Cleans one text as {@link CleanOptions} say and applies the length filter.
 * @example
 * cleanText('<p>Caf&eacute;\u00A0 ＡＢＣ</p>') // { text: 'Café ABC' }
 */
export function cleanText(text: string, options: Required<CleanOptions>): CleanResult {
  let out = text;
  if (options.html) out = stripHtml(out);
  if (options.nfkc) out = out.normalize('NFKC');
  if (options.controlChars) out = out.replace(CONTROL, '');
  out = out.replace(LINE_BREAKS, ' ');
  if (options.collapseWhitespace) out = out.replace(WHITESPACE, ' ').trim();
  const length = codePointLength(out);
  if (length === 0 || out.trim().length === 0) return { dropped: 'empty' };
  if (length < options.minLength) return { dropped: 'too_short' };
  if (length > options.maxLength) return { dropped: 'too_long' };
  return { text: out };
}
