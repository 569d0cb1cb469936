// Streaming lines out of a text file (or .gz) with bounded memory: the bytes
// are split at "\n" before decoding, so a line longer than `maxLineBytes` is
// skipped over (reported, never held) and invalid UTF-8 is caught per line
// with its line number. A NUL byte is reported too: valid UTF-8 holds NULs
// only where the file is binary or UTF-16, whose ASCII reads as text with a
// NUL between letters. Only one line, plus the read buffer, is in memory.
// Plain Node streams; no native code.

import { createReadStream } from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** One line of a file: its text, or why it could not be read. */
export type RawLine =
  | { line: number; text: string; bytes: number; error?: undefined; /** The line ended in "\r\n" (the "\r" is not in `text`). */ crlf: boolean }
  | { line: number; error: 'invalid_utf8' | 'line_too_long' | 'nul_byte'; bytes: number; text?: undefined };

/** The line break that ended `raw`, for records that span lines and keep their breaks as written. */
export const lineBreak = (raw: { crlf?: boolean }): string => (raw.crlf ? '\r\n' : '\n');

/** Whether `path` is read through gunzip. */
export function isGzip(path: string): boolean {
  return path.endsWith('.gz');
}

/** A byte stream of the file, decompressed when it ends in .gz. */
export function openBytes(path: string): Readable {
  const source = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!isGzip(path)) return source;
  // pipeline() forwards a read error or a corrupt gzip stream to the consumer.
  return pipeline(source, createGunzip(), () => {});
}

/**
 * Yields the lines of `path` (1-based numbers, "\r\n" or "\n" endings, a
 * UTF-8 byte order mark at the start removed). A line over `maxLineBytes`
 * bytes comes back as `line_too_long` and bytes that are not UTF-8 as
 * `invalid_utf8`, and one with a NUL byte as `nul_byte`; reading goes on
 * with the next line either way.
 */
export async function* readLines(path: string, maxLineBytes: number): AsyncGenerator<RawLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let pieces: Buffer[] = [];
  let bytes = 0;
  let tooLong = false;
  let line = 1;

  const finish = (): RawLine => {
    const number = line++;
    const size = bytes;
    const parts = pieces;
    const skipped = tooLong;
    pieces = [];
    bytes = 0;
    tooLong = false;
    if (skipped) return { line: number, error: 'line_too_long', bytes: size };
    let buffer = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
    const crlf = buffer.length > 0 && buffer[buffer.length - 1] === 13;
    if (crlf) buffer = buffer.subarray(0, buffer.length - 1);
    let text: string;
    try {
      text = decoder.decode(buffer);
    } catch {
      return { line: number, error: 'invalid_utf8', bytes: size };
    }
    if (buffer.includes(0)) return { line: number, error: 'nul_byte', bytes: size };
    if (number === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return { line: number, text, bytes: size, crlf };
  };

  for await (const chunk of openBytes(path) as AsyncIterable<Buffer>) {
    let start = 0;
    while (start <= chunk.length) {
      const newline = chunk.indexOf(10, start);
      const end = newline === -1 ? chunk.length : newline;
      bytes += end - start;
      if (!tooLong) {
        if (bytes > maxLineBytes) {
          tooLong = true;
          pieces = [];
        } else if (end > start) {
          pieces.push(chunk.subarray(start, end));
        }
      }
      if (newline === -1) break;
      yield finish();
      start = newline + 1;
    }
  }
  if (bytes > 0 || tooLong) yield finish();
}
