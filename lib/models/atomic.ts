// Atomic file replacement: the bytes go to `<path>.tmp-<pid>-<random>` in the
// same folder, are fsync'ed, and the temporary file is renamed over `path`.
// A reader (or a crash) sees either the old file or the whole new one, never
// half of it; that is how every checkpoint file is written (DESIGN.md "Formats").
// Pure Node (fs.promises), no native code; safe to call from any thread.
// Two concurrent writers of one path each produce a complete file; the last
// rename wins.

import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What {@link writeFileAtomic} writes: one buffer, a UTF-8 string, or chunks in order. */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Options of {@link writeFileAtomic}. */
export interface WriteFileAtomicOptions {
  /**
   * Permission bits of a new file (before the umask). An existing file keeps its own mode.
   * @default 0o666
   */
  mode?: number;
  /**
   * fsync the file before the rename and the folder after it. Turning this off
   * keeps the all-or-nothing rename but not durability across a power cut.
   * @default true
   */
  fsync?: boolean;
}

/**
 * Writes `data` to `path` atomically: to a temporary file beside it, fsync, then rename.
 * On any error the temporary file is removed, `path` is left as it was, and the
 * error is rethrown.
 *
 * @throws the fs error (`EACCES`, `ENOSPC`, `EISDIR`, ...) or whatever `data`'s iterator throws.
 * @example
 * await writeFileAtomic('out/trainer_state.json', JSON.stringify(state));
 * await writeFileAtomic('out/model.safetensors', [header, ...tensorBytes]);
 */
export async function writeFileAtomic(
  path: string,
  data: AtomicData,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError(`Expected a non-empty string for path but received ${String(path)}`);
  }
  const { mode, fsync = true } = options;
  if (mode !== undefined && !(Number.isInteger(mode) && mode >= 0 && mode <= 0o7777)) {
    throw new TypeError(`Expected a permission mode (0..0o7777) for mode but received ${String(mode)}`);
  }

  // Keep the permissions of the file being replaced (as write-file-atomic does).
  const existingMode = await stat(path).then((s) => (s.isFile() ? s.mode & 0o7777 : undefined), () => undefined);

  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  // 'wx': fail rather than follow or clobber something already at the temporary name.
  let fh: FileHandle | undefined = await open(tmp, 'wx', mode ?? 0o666);
  try {
    if (existingMode !== undefined) await fh.chmod(existingMode);
    let position = 0;
    for await (const chunk of chunksOf(data)) {
      await writeAll(fh, chunk, position);
      position += chunk.byteLength;
    }
    if (fsync) await fh.sync();
    const closing = fh;
    fh = undefined;
    await closing.close();
    await rename(tmp, path);
  } catch (err) {
    if (fh !== undefined) await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  // The rename is only durable once the folder entry is flushed. Not every
  // platform can fsync a folder (Windows cannot open one), so this is best effort.
  if (fsync) await syncDir(dirname(path));
}

async function* chunksOf(data: AtomicData): AsyncGenerator<Uint8Array> {
  if (typeof data === 'string') {
    yield Buffer.from(data, 'utf8');
  } else if (data instanceof Uint8Array) {
    yield data;
  } else if (data != null && (Symbol.asyncIterator in data || Symbol.iterator in data)) {
    for await (const chunk of data) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`Expected Uint8Array chunks for data but received ${typeof chunk}`);
      }
      yield chunk;
    }
  } else {
    throw new TypeError(`Expected a string, Uint8Array or iterable of Uint8Array for data but received ${typeof data}`);
  }
}

// FileHandle.write may write less than asked (large buffers, signals): loop.
async function writeAll(fh: FileHandle, chunk: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.byteLength - done, position + done);
    done += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // best effort, see above
  } finally {
    await fh?.close().catch(() => {});
  }
}
