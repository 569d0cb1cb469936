// Reference readers for the fuzz suite: what a file "as written" holds, by
// the rules lib/data documents, written again independently and plainly:
// lines split by hand and UTF-8 checked by a round trip (not TextDecoder),
// CSV fields by a character state machine (not csv-parse). The readers'
// output must equal these, record for record and bad row for bad row.

/** A record or a bad row at a line. */
export type RefRow = { line: number; value: unknown; bad?: undefined } | { line: number; bad: string };
/** Rows, or an input error (a file the reader cannot read at all). */
export interface RefOutcome {
  rows: RefRow[];
  inputError?: string;
}

type Line = { line: number; text: string; bytes: number; crlf: boolean; error?: undefined } | { line: number; error: string; bytes: number };

export function refLines(bytes: Buffer, maxLineBytes: number): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (let n = 1; start <= bytes.length; n++) {
    let end = bytes.indexOf(0x0a, start);
    if (end === -1) {
      end = bytes.length;
      if (end === start) break; // no final line after the last break
    }
    const seg = bytes.subarray(start, end);
    start = end + 1;
    if (seg.length > maxLineBytes) {
      lines.push({ line: n, error: 'line_too_long', bytes: seg.length });
      continue;
    }
    const crlf = seg.length > 0 && seg[seg.length - 1] === 0x0d;
    const body = crlf ? seg.subarray(0, seg.length - 1) : seg;
    let text = body.toString('utf8');
    // Valid UTF-8 is exactly what decodes and encodes back to the same bytes.
    if (!Buffer.from(text, 'utf8').equals(body)) lines.push({ line: n, error: 'invalid_utf8', bytes: seg.length });
    else if (body.includes(0)) lines.push({ line: n, error: 'nul_byte', bytes: seg.length });
    else {
      if (n === 1 && text.startsWith('\ufeff')) text = text.slice(1);
      lines.push({ line: n, text, bytes: seg.length, crlf });
    }
  }
  return lines;
}

const blank = (s: string) => s.trim() === '';

/** txt, a line per record. */
export function refTxt(bytes: Buffer, max: number): RefOutcome {
  const rows: RefRow[] = [];
  for (const l of refLines(bytes, max)) {
    if (l.error !== undefined) rows.push({ line: l.line, bad: l.error });
    else if (!blank(l.text)) rows.push({ line: l.line, value: l.text });
  }
  return { rows };
}

/** txt, blank-line separated documents: a document is bad at its first bad line, or where it passes maxLineBytes. */
export function refTxtDocuments(bytes: Buffer, max: number): RefOutcome {
  const rows: RefRow[] = [];
  let doc: { line: number; text: string; size: number; bad?: RefRow; crlf: boolean } | undefined;
  const end = () => {
    if (doc) rows.push(doc.bad ?? { line: doc.line, value: doc.text });
    doc = undefined;
  };
  for (const l of refLines(bytes, max)) {
    if (l.error === undefined && blank(l.text)) {
      end();
      continue;
    }
    const first = doc === undefined;
    doc ??= { line: l.line, text: '', size: 0, crlf: false };
    doc.size += l.bytes + 1;
    if (doc.bad) continue;
    if (l.error !== undefined) doc.bad = { line: l.line, bad: l.error };
    else if (doc.size > max) doc.bad = { line: l.line, bad: 'line_too_long' };
    else {
      doc.text += (first ? '' : doc.crlf ? '\r\n' : '\n') + l.text;
      doc.crlf = l.crlf;
    }
  }
  end();
  return { rows };
}

// RFC 4180 fields of one record's text, by a state machine; undefined if malformed.
export function parseFields(text: string, delimiter: string, quote: string | null): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (quote !== null && text[i] === quote) {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) return undefined;
        if (text[i] === quote) {
          if (text[i + 1] === quote) {
            value += quote;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += text[i++];
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== delimiter) return undefined;
      i++;
    } else {
      let end = text.indexOf(delimiter, i);
      if (end === -1) end = text.length;
      const value = text.slice(i, end);
      if ((quote !== null && value.includes(quote)) || value.includes('\n')) return undefined;
      fields.push(value);
      if (end === text.length) return fields;
      i = end + 1;
    }
  }
}

const quoteCount = (text: string, quote: string) => text.split(quote).length - 1;

/**
 * CSV/TSV records with the readers' documented rules: a record continues
 * over lines while its quotes are unbalanced (not past a bad line or
 * maxLineBytes, else unbalanced_quote and reading goes on at its next line);
 * every record has the header's (or the first record's) number of fields.
 */
export function refCsv(bytes: Buffer, o: { delimiter: string; quote: string | null; header: boolean; max: number }): { header?: string[]; rows: RefRow[]; inputError?: string } {
  const lines = refLines(bytes, o.max);
  const rows: RefRow[] = [];
  let width: number | undefined;
  let header: string[] | undefined;
  for (let k = 0; k < lines.length; k++) {
    const first = lines[k];
    if (first.error === undefined && blank(first.text)) continue;
    let record: RefRow;
    if (first.error !== undefined) record = { line: first.line, bad: first.error };
    else {
      let text = first.text;
      let end = k;
      let closed = true;
      if (o.quote !== null && quoteCount(text, o.quote) % 2 === 1) {
        closed = false;
        let size = first.bytes;
        let previous = first;
        for (let j = k + 1; j < lines.length; j++) {
          const more = lines[j];
          if (more.error !== undefined || size + more.bytes + 1 > o.max) break;
          text += (previous.crlf ? '\r\n' : '\n') + more.text;
          size += more.bytes + 1;
          previous = more;
          if (quoteCount(more.text, o.quote) % 2 === 1) {
            closed = true;
            end = j;
            break;
          }
        }
      }
      const fields = closed ? parseFields(text, o.delimiter, o.quote) : undefined;
      record = !closed ? { line: first.line, bad: 'unbalanced_quote' } : fields === undefined ? { line: first.line, bad: 'malformed_csv' } : { line: first.line, value: fields };
      if (record.bad === undefined) k = end;
    }
    if (record.bad !== undefined) {
      if (o.header && width === undefined) return { rows, inputError: `header: ${record.bad}` };
      rows.push(record);
      continue;
    }
    const fields = record.value as string[];
    if (width === undefined) {
      width = fields.length;
      if (o.header) {
        header = fields;
        continue;
      }
    } else if (fields.length !== width) {
      rows.push({ line: record.line, bad: 'field_count' });
      continue;
    }
    rows.push(record);
  }
  return { header, rows };
}

// A label as the classification reader takes it: a trimmed, non-empty name.
function labelOf(value: unknown): { name: string } | { bad: string } {
  if (value === undefined || value === null) return { bad: 'missing_field' };
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') return { bad: 'wrong_type' };
  const name = String(value).trim();
  return name === '' ? { bad: 'invalid_label' } : { name };
}

/**
 * ClassificationDataset with the text in "text" and the label in "label":
 * rows of [text, label name]; without `withLabel` (the corpus reader) the text alone.
 */
export function refClassification(bytes: Buffer, format: 'csv' | 'tsv' | 'jsonl', max: number, fixed?: string[], withLabel = true): RefOutcome {
  const rows: RefRow[] = [];
  const known = (line: number, text: string, label: { name: string } | { bad: string }) => {
    if (!withLabel) rows.push({ line, value: text });
    else if ('bad' in label) rows.push({ line, bad: label.bad });
    else if (fixed && !fixed.includes(label.name)) rows.push({ line, bad: 'unknown_label' });
    else rows.push({ line, value: [text, label.name] });
  };
  if (format === 'jsonl') {
    for (const l of refLines(bytes, max)) {
      if (l.error !== undefined) rows.push({ line: l.line, bad: l.error });
      else if (!blank(l.text)) {
        let v: unknown;
        try {
          v = JSON.parse(l.text);
        } catch {
          rows.push({ line: l.line, bad: 'malformed_json' });
          continue;
        }
        if (v === null || typeof v !== 'object' || Array.isArray(v)) rows.push({ line: l.line, bad: 'malformed_json' });
        else {
          const own = (key: string) => (Object.hasOwn(v as object, key) ? (v as Record<string, unknown>)[key] : undefined);
          const text = own('text');
          if (text === undefined || text === null) rows.push({ line: l.line, bad: 'missing_field' });
          else if (typeof text !== 'string') rows.push({ line: l.line, bad: 'wrong_type' });
          else if (blank(text)) rows.push({ line: l.line, bad: 'empty_text' });
          else known(l.line, text, withLabel ? labelOf(own('label')) : { bad: '' });
        }
      }
    }
    return { rows };
  }
  const csv = refCsv(bytes, { delimiter: format === 'csv' ? ',' : '\t', quote: format === 'csv' ? '"' : null, header: true, max });
  if (csv.inputError) return { rows: [], inputError: csv.inputError };
  if (!csv.header) return { rows: [] }; // no records at all
  const at = (name: string) => csv.header!.filter((h) => h === name).length === 1 ? csv.header!.indexOf(name) : -1;
  const [t, y] = [at('text'), at('label')];
  if (t < 0 || y < 0) return { rows: [], inputError: 'columns' };
  for (const row of csv.rows) {
    if (row.bad !== undefined) rows.push(row);
    else {
      const fields = row.value as string[];
      if (blank(fields[t])) rows.push({ line: row.line, bad: 'empty_text' });
      else known(row.line, fields[t], labelOf(fields[y]));
    }
  }
  return { rows };
}

/** CoNLL with two columns (word, tag), strict IOB2: rows of [words, tags] per sentence, at its first line. */
export function refConll(bytes: Buffer, max: number): RefOutcome {
  const rows: RefRow[] = [];
  let words: string[] = [];
  let tags: string[] = [];
  let lines: number[] = [];
  let bad: RefRow | undefined;
  let width: number | undefined;
  const flush = () => {
    if (bad) rows.push(bad);
    else if (words.length > 0) {
      const broken = tags.findIndex((tag, k) => tag.startsWith('I-') && (k === 0 || tags[k - 1] === 'O' || tags[k - 1].slice(2) !== tag.slice(2)));
      rows.push(broken >= 0 ? { line: lines[broken], bad: 'invalid_tags' } : { line: lines[0], value: [words, tags] });
    }
    words = [];
    tags = [];
    lines = [];
    bad = undefined;
  };
  for (const l of refLines(bytes, max)) {
    if (l.error !== undefined) {
      bad ??= { line: l.line, bad: l.error };
      continue;
    }
    if (blank(l.text)) {
      flush();
      continue;
    }
    const fields = l.text.replace(/^[ \t]+|[ \t]+$/g, '').split(/[ \t]+/);
    if (fields[0] === '-DOCSTART-') {
      flush();
      continue;
    }
    if (bad) continue;
    if (fields.length < 2) {
      bad = { line: l.line, bad: 'missing_column' };
      continue;
    }
    if (width === undefined) {
      if (fields.length !== 2) return { rows, inputError: 'columns' };
      width = 2;
    }
    if (fields.length !== width) bad = { line: l.line, bad: 'field_count' };
    else if (!/^(?:O|[BI]-\S+)$/.test(fields[1])) bad = { line: l.line, bad: 'invalid_label' };
    else {
      words.push(fields[0]);
      tags.push(fields[1]);
      lines.push(l.line);
    }
  }
  flush();
  return { rows };
}
