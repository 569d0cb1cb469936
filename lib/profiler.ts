/**
 * libtorch's profiler (Kineto) around native work: which ops take the CPU's
 * time and which kernels take the GPU's, as torch.profiler does in Python.
 * It watches the compute thread, where models' forward and training steps run.
 * @example
 * const { summary } = await profile(async () => { for (const b of batches) await model.trainStep(b); }, { cuda: true });
 * console.table(summary.deviceKernels.slice(0, 10));
 */
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import type { ProfileSummary } from '../binding.js';
import { native } from './binding.js';
import { invalidRange, invalidType } from './errors.js';

export type { ProfileRow, ProfileSummary } from '../binding.js';

export interface ProfileOptions {
  /** Record CUDA kernels too (needs a GPU). @default false */
  cuda?: boolean;
  /** Also write a Chrome trace (chrome://tracing, Perfetto) here. */
  tracePath?: string;
  /** Rows kept per table. @default 30 */
  top?: number;
}

/** Runs fn with the profiler on and returns its result and a summary. One profile at a time. */
export async function profile<T>(fn: () => Promise<T> | T, o: ProfileOptions = {}): Promise<{ result: T; summary: ProfileSummary }> {
  if (typeof fn !== 'function') invalidType('a function', 'fn', fn);
  if (o.tracePath !== undefined && typeof o.tracePath !== 'string') invalidType('a string', 'tracePath', o.tracePath);
  const top = o.top ?? 30;
  if (!Number.isInteger(top) || top < 1) invalidRange('a positive integer', 'top', top);
  // Kineto writes the trace without reporting a failure: check the folder before profiling, the file after.
  if (o.tracePath !== undefined) {
    const dir = path.dirname(path.resolve(o.tracePath));
    try {
      accessSync(dir, constants.W_OK);
    } catch (e) {
      throw Object.assign(new Error(`cannot write the trace to ${o.tracePath}: ${dir} is not a writable folder (${(e as NodeJS.ErrnoException).code})`), { code: 'ERR_TRACE_PATH' });
    }
  }
  await native().profilerStart(o.cuda ?? false);
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await native().profilerStop(null, 1).catch(() => undefined);
    throw e;
  }
  const summary = await native().profilerStop(o.tracePath ?? null, top);
  if (o.tracePath !== undefined && !existsSync(o.tracePath)) {
    throw Object.assign(new Error(`the profiler did not write its trace to ${o.tracePath}`), { code: 'ERR_TRACE_PATH' });
  }
  return { result, summary };
}
