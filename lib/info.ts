/**
 * info(): what this bertorch runs on — versions, BLAS, threads, CUDA devices,
 * and whether the addon was prebuilt or compiled here.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { CpuCacheStats, NativeInfo } from '../binding.js';
import { loadBinding, packageRoot } from './binding.js';

/** The native facts (binding.d.ts NativeInfo) plus where the addon came from. */
export interface BertorchInfo extends Omit<NativeInfo, 'config' | 'parallelInfo'> {
  version: string;
  /** true when node-gyp-build loaded a binary from prebuilds/. */
  prebuilt: boolean;
  binary: string;
  /**
   * The CPU computes bfloat16 natively (AVX512-BF16 or AMX on x86, BF16 on Arm):
   * there, bf16 autocast (`model.autocast('bfloat16')`, Trainer `bf16: true`)
   * trains about 3x faster than float32 (scripts/bench/train.ts --bf16).
   */
  cpuBf16: boolean;
}

let bf16: boolean | undefined;
function cpuHasBf16(): boolean {
  if (bf16 === undefined) {
    try {
      const flags = readFileSync('/proc/cpuinfo', 'utf8').match(/^(?:flags|Features)\s*:(.*)$/m)?.[1].split(/\s+/) ?? [];
      bf16 = flags.some((f) => f === 'avx512_bf16' || f === 'amx_bf16' || f === 'bf16');
    } catch {
      bf16 = false;  // not Linux: unknown, so not claimed
    }
  }
  return bf16;
}

/** Describes the runtime. @example console.log(info().blas) */
export function info(): BertorchInfo {
  const { binding, file, prebuilt } = loadBinding();
  const { config: _config, parallelInfo: _p, ...rest } = binding.info();
  const require = createRequire(import.meta.url);
  const version = require(path.join(packageRoot(), 'package.json')).version as string;
  return { version, ...rest, prebuilt, binary: file, cpuBf16: cpuHasBf16() };
}

/** Sets libtorch's intra-op threads (default: the cores this process may use, cgroup-aware). */
export function setNumThreads(n: number): void {
  loadBinding().binding.setNumThreads(n);
}

export type { CpuCacheStats };

/**
 * Counters of the CPU caching allocator: large CPU tensors (>= 256 KiB) reuse
 * freed blocks instead of faulting in fresh pages every training step.
 * `installed` is false under BERTORCH_CPU_CACHE_MB=0.
 */
export function cpuCacheStats(): CpuCacheStats {
  return loadBinding().binding.cpuCacheStats();
}

/**
 * Gives the CPU tensor blocks the cache holds free back to the OS (as
 * torch.cuda.empty_cache does for the GPU); returns the MiB released. The
 * Trainer calls it when fit() ends.
 */
export function emptyCpuCache(): number {
  return loadBinding().binding.emptyCpuCache();
}
