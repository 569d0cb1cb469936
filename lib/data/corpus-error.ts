// The error corpus preparation throws for input it cannot use: a bad row
// (with onBadRow 'error', the default) or an input that is unusable as a
// whole (a CSV header without the text column, an unreadable gzip stream).
// It names the file and line, so the row can be found and fixed.

import type { BadRowReason } from './readers.js';

/** Error codes of {@link CorpusError}. */
export type CorpusErrorCode = 'ERR_CORPUS_BAD_ROW' | 'ERR_CORPUS_INPUT';

/**
 * A corpus input problem at `file`:`line`.
 * `code` is `ERR_CORPUS_BAD_ROW` for one bad row (skippable with
 * `onBadRow: 'skip'`) and `ERR_CORPUS_INPUT` for a file that cannot be read.
 */
export class CorpusError extends Error {
  override name = 'CorpusError';

  constructor(
    readonly code: CorpusErrorCode,
    readonly file: string,
    readonly line: number | undefined,
    readonly reason: BadRowReason | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    const where = line === undefined ? file : `${file}:${line}`;
    const hint = code === 'ERR_CORPUS_BAD_ROW' ? ` (${reason}; onBadRow: 'skip', or --on-bad-row skip, skips and lists such rows)` : '';
    super(`${where}: ${detail}${hint}`, options);
  }
}

/** An input problem that no `onBadRow` setting can skip (a header without a needed column, an unreadable header). */
export class ReaderConfigError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

/**
 * Passes on what `records` yields, turning a failure to read the file at all
 * (missing, unreadable, a corrupt gzip stream, a header without a needed
 * column) into a CorpusError `ERR_CORPUS_INPUT` that names the file, and the
 * line where known.
 */
export async function* namingInputErrors<T>(file: string, records: AsyncIterable<T>): AsyncGenerator<T> {
  try {
    yield* records;
  } catch (error) {
    throw asInputError(file, error);
  }
}

/** `error` as a CorpusError naming `file` (a CorpusError or a TypeError passes as it is). */
export function asInputError(file: string, error: unknown): Error {
  if (error instanceof CorpusError || error instanceof TypeError || error instanceof RangeError) return error;
  const line = error instanceof ReaderConfigError ? error.line : undefined;
  return new CorpusError('ERR_CORPUS_INPUT', file, line, undefined, (error as Error).message, { cause: error });
}
