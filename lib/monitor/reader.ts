/**
 * Records for the monitor from JSONL or CSV: a file, a file that is still
 * being written (follow: poll for new bytes, as `tail -f`, starting over if
 * it is truncated), or a stream such as stdin. Every record carries its line
 * (RECORD_LINE); a line that does not parse becomes a MalformedRecord in the
 * stream, so the monitor counts and reports it and goes on. CSV records are
 * one line each (a quoted field may hold commas and doubled quotes, not a
 * line break), so one broken quote costs one line, never the rest of a
 * stream. Reading is pulled: nothing is read ahead of what the monitor takes.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { MalformedRecord, RECORD_LINE, type MonitorRecord } from './monitor.js';

/** Options of {@link readRecords}. */
export interface ReadRecordsOptions {
  /** @default from the file's extension (.csv is CSV, anything else JSONL); JSONL for a stream */
  format?: 'jsonl' | 'csv';
  /** Keep reading a file as it grows, until `signal` aborts (then what the file holds is read to its end, and reading stops). @default false */
  follow?: boolean;
  /** How often a followed file is checked for new bytes (ms). @default 200 */
  pollMs?: number;
  /** Ends the reading (a followed file never ends by itself). */
  signal?: AbortSignal;
  /** Bytes per read. @default 65536 */
  chunkSize?: number;
}

/** One line with its number (1-based). */
interface Line { n: number; text: string }

/**
 * The records of a JSONL or CSV source, in order.
 * @example
 * for await (const r of readRecords('news.jsonl')) ... // MonitorRecord or MalformedRecord
 * await monitor.run(readRecords('feed.jsonl', { follow: true, signal }));
 */
export async function* readRecords(source: string | NodeJS.ReadableStream, options: ReadRecordsOptions = {}): AsyncGenerator<MonitorRecord | MalformedRecord> {
  const format = options.format ?? (typeof source === 'string' && /\.csv(\.gz)?$/i.test(source) ? 'csv' : 'jsonl');
  const lines = linesOf(chunksOf(source, options));
  yield* format === 'csv' ? csvRecords(lines) : jsonlRecords(lines);
}

async function* chunksOf(source: string | NodeJS.ReadableStream, o: ReadRecordsOptions): AsyncGenerator<Buffer | string> {
  if (typeof source !== 'string') {
    for await (const c of source) {
      yield c as Buffer | string;
      if (o.signal?.aborted) return;
    }
    return;
  }
  if (!o.follow) {
    for await (const c of createReadStream(source, { highWaterMark: o.chunkSize ?? 65536 })) {
      yield c as Buffer;
      if (o.signal?.aborted) return;
    }
    return;
  }
  yield* follow(source, o);
}

// tail -f: read what is there, then poll for more; a file that shrank was truncated or replaced, so start over.
async function* follow(file: string, o: ReadRecordsOptions): AsyncGenerator<Buffer | string> {
  const buf = Buffer.alloc(o.chunkSize ?? 65536);
  const poll = o.pollMs ?? 200;
  let offset = 0;
  let fh = await open(file, 'r');
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      if (bytesRead > 0) {
        offset += bytesRead;
        yield Buffer.from(buf.subarray(0, bytesRead));
        continue;
      }
      // Stopped: what was written before the stop has been read; end here.
      if (o.signal?.aborted) return;
      const size = await stat(file).then((s) => s.size, () => offset);
      if (size < offset) {
        await fh.close();
        fh = await open(file, 'r');
        offset = 0;
        yield '\n'; // the cut line ends here
        continue;
      }
      await sleep(poll, undefined, { signal: o.signal }).catch(() => {});
    }
  } finally {
    await fh.close();
  }
}

async function* linesOf(chunks: AsyncIterable<Buffer | string>): AsyncGenerator<Line> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let n = 0;
  for await (const c of chunks) {
    rest += typeof c === 'string' ? c : decoder.write(c);
    let nl: number;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const text = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      yield { n: ++n, text: text.endsWith('\r') ? text.slice(0, -1) : text };
    }
  }
  rest += decoder.end();
  if (rest !== '') yield { n: ++n, text: rest.endsWith('\r') ? rest.slice(0, -1) : rest };
}

function withLine<T extends object>(record: T, line: number): T {
  Object.defineProperty(record, RECORD_LINE, { value: line, enumerable: false });
  return record;
}

async function* jsonlRecords(lines: AsyncIterable<Line>): AsyncGenerator<MonitorRecord | MalformedRecord> {
  for await (const { n, text } of lines) {
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      yield new MalformedRecord(n, 'bad_json', `not JSON (${(e as Error).message})`);
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      yield new MalformedRecord(n, 'malformed', `not a JSON object: ${text.length > 60 ? text.slice(0, 57) + '...' : text}`);
      continue;
    }
    yield withLine(value as MonitorRecord, n);
  }
}

async function* csvRecords(lines: AsyncIterable<Line>): AsyncGenerator<MonitorRecord | MalformedRecord> {
  let header: string[] | undefined;
  for await (const { n, text } of lines) {
    if (text.trim() === '') continue;
    const fields = splitCsvLine(text.charCodeAt(0) === 0xfeff && !header ? text.slice(1) : text);
    if (!header) {
      if (typeof fields === 'string') throw new Error(`line ${n}: the CSV header does not parse: ${fields}`);
      header = fields.map((f) => f.trim());
      continue;
    }
    if (typeof fields === 'string') {
      yield new MalformedRecord(n, 'bad_csv', fields);
      continue;
    }
    if (fields.length !== header.length) {
      yield new MalformedRecord(n, 'bad_csv', `${fields.length} fields, header has ${header.length}`);
      continue;
    }
    yield withLine(Object.fromEntries(header.map((h, k) => [h, fields[k]])) as MonitorRecord, n);
  }
}

/** The fields of one CSV line (RFC 4180 quoting), or a message saying why it does not parse. */
export function splitCsvLine(line: string): string[] | string {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return 'unclosed quote';
        v += line.slice(i, q);
        if (line[q + 1] === '"') { v += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      if (i < line.length && line[i] !== ',') return `text after a closing quote at column ${i + 1}`;
      out.push(v);
    } else {
      const c = line.indexOf(',', i);
      const v = line.slice(i, c < 0 ? line.length : c);
      if (v.includes('"')) return `a quote inside an unquoted field at column ${i + 1}`;
      out.push(v);
      i = c < 0 ? line.length : c;
    }
    if (i >= line.length) return out;
    i++; // the comma
    if (i === line.length) { out.push(''); return out; }
  }
}
