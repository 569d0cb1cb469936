// What a command is (its options and run function, and the streams it gets)
// and the small checks and messages every command shares.

import { stat } from 'node:fs/promises';
import type { PreTrainedBert } from '../models/index.js';
import type { Device } from '../tensor.js';
import type { Opts, Values } from './options.js';

/** Where a command reads and writes (the process's streams, or test doubles). */
export interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command { summary: string; usage: string; options: Opts; run(v: Values, io: Io): Promise<number> }

export function say(io: Io, v: Values, msg: string): void {
  if (!v.quiet) io.stderr.write(`[bertorch] ${msg}\n`);
}

/** A missing input folder or file fails with its flag's name, before any loading. */
export async function mustExist(file: string | undefined, flag: string): Promise<void> {
  if (file === undefined || file === '-') return;
  if (!(await stat(file).then(() => true, () => false))) throw new Error(`${flag} ${file}: no such file or folder`);
}

export function toDevice(model: PreTrainedBert, device: string): void {
  if (device !== 'cpu') model.to(device as Device);
}
