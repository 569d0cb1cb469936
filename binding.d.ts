/**
 * The raw native module, name for name with native/*.cc registrations.
 * Internal: users import from lib/. Tensors here are native handles.
 */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
export type NativeArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array;

/**
 * A tensor handle: a number naming a slot in the addon's per-thread tensor
 * table (native/tensor.h). lib/tensor.ts owns each one in a Tensor.
 */
export type NativeTensor = number;
/** A scalar operand where a tensor could go: a boolean, or a number boxed as [x]. */
export type NativeScalar = boolean | [number | boolean];

export interface NativeInfo {
  libtorchVersion: string;
  libtorchRoot: string;
  /** e.g. `mkl 2024.2`, `openblas`: the BLAS ATen calls for matmul. */
  blas: string;
  mkldnn: string;
  openmp: string;
  cpuCapability: string;
  intraOpThreads: number;
  interOpThreads: number;
  availableCores: number;
  parallelInfo: string;
  cudaAvailable: boolean;
  cudaBuilt: boolean;
  cudaDevices: string[];
  cudnn: string;
  cudaVersion: string;
  /** c10d backends built in: 'gloo', 'nccl'. */
  distributedBackends: string[];
  /** 'caching (free blocks up to N MiB)' or 'default (why)': native/cpu_allocator.h. */
  cpuAllocator: string;
  config: string;
}

/** The CPU caching allocator's counters (native/cpu_allocator.h); sizes in MiB. */
export interface CpuCacheStats {
  installed: boolean;
  limitMB: number;
  inUseMB: number;
  cachedMB: number;
  peakMB: number;
  hits: number;
  misses: number;
  released: number;
}

export interface ProfileRow { name: string; count: number; ms: number }
export interface ProfileSummary {
  wallMs: number;
  /** Sum of the CUDA kernel and memcpy durations (0 without CUDA). */
  deviceBusyMs: number;
  /** CPU-side ops by total time (nested ops count in their parents too). */
  cpuOps: ProfileRow[];
  /** GPU kernels by total time. */
  deviceKernels: ProfileRow[];
}

type T = NativeTensor;
type TS = NativeTensor | NativeScalar;

export interface Binding {
  Model: new (config: Record<string, unknown>, architecture: string, seed: number) => NativeModel;
  /** native/search_binding.cc: exact top-k by cosine / dot product in row blocks. */
  ExactIndex: new (dim: number, metric: 'cosine' | 'dot') => NativeExactIndex;
  setup(errors: Record<string, Function>): void;
  initProcessGroup(o: { backend: string; masterAddr: string; masterPort: number; rank: number; worldSize: number; timeoutMs: number }): Promise<unknown>;
  distAvailable(): boolean;
  distBackends(): string[];
  // profiler (native/profiler.cc)
  profilerStart(cuda?: boolean): Promise<void>;
  profilerStop(tracePath?: string | null, top?: number): Promise<ProfileSummary>;
  info(): NativeInfo;
  cudaAvailable(): boolean;
  cudaSynchronize(): void;
  cpuCacheStats(): CpuCacheStats;
  /** Gives the cached free CPU blocks back to the kernel; returns the MiB released. */
  emptyCpuCache(): number;
  /** Bytes this process may use: physical memory, or the lowest cgroup limit above it. */
  usableMemory(): number;
  // handles (native/tensor.cc)
  dispose(t: T): boolean;
  isDisposed(t: T): boolean;
  shape(t: T): number[];
  dtype(t: T): DType;
  device(t: T): string;
  numel(t: T): number;
  item(t: T): number | bigint | boolean;
  toArray(t: T): NativeArray;
  data(t: T): Promise<NativeArray>;
  to(t: T, target: string): T;
  requiresGrad(t: T): boolean;
  setRequiresGrad(t: T, value: boolean): void;
  grad(t: T): T | null;
  backward(t: T, gradient?: T | null, retainGraph?: boolean): void;
  zeroGrad(t: T): void;
  describe(t: T): string;
  // factories and switches (native/tensor_create.cc)
  fromArray(data: NativeArray, shape: number[], dtype: DType, device?: string): T;
  zeros(shape: number[], dtype?: DType, device?: string): T;
  ones(shape: number[], dtype?: DType, device?: string): T;
  full(shape: number[], value: number, dtype?: DType, device?: string): T;
  arange(start: number, end: number, step?: number, dtype?: DType, device?: string): T;
  rand(shape: number[], dtype?: DType, device?: string, seed?: number): T;
  randn(shape: number[], dtype?: DType, device?: string, seed?: number): T;
  manualSeed(seed: number): void;
  setGradEnabled(enabled: boolean): boolean;
  isGradEnabled(): boolean;
  liveTensors(): number;
  matmulAsync(a: T, b: T, repeat?: number): Promise<T>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  // ops (native/tensor_ops.cc)
  add(a: T, b: TS): T; sub(a: T, b: TS): T; mul(a: T, b: TS): T; div(a: T, b: TS): T; pow(a: T, b: TS): T;
  maximum(a: T, b: TS): T; minimum(a: T, b: TS): T;
  eq(a: T, b: TS): T; ne(a: T, b: TS): T; lt(a: T, b: TS): T; le(a: T, b: TS): T; gt(a: T, b: TS): T; ge(a: T, b: TS): T;
  neg(a: T): T; exp(a: T): T; log(a: T): T; sqrt(a: T): T; abs(a: T): T; tanh(a: T): T; sigmoid(a: T): T; relu(a: T): T;
  gelu(a: T, approximate?: 'none' | 'tanh'): T;
  isnan(a: T): T; clone(a: T): T; detach(a: T): T; contiguous(a: T): T;
  where(cond: T, a: TS, b: TS): T;
  maskedFill(a: T, mask: T, value: number): T;
  matmul(a: T, b: T): T; bmm(a: T, b: T): T; linear(x: T, w: T, b?: T | null): T;
  reshape(a: T, shape: number[]): T; view(a: T, shape: number[]): T; permute(a: T, dims: number[]): T;
  transpose(a: T, d0: number, d1: number): T;
  slice(a: T, dim: number, start?: number, end?: number, step?: number): T;
  indexSelect(a: T, dim: number, index: T): T; gather(a: T, dim: number, index: T): T;
  cat(list: T[], dim?: number): T; stack(list: T[], dim?: number): T;
  sum(a: T, dim?: number | number[] | null, keepdim?: boolean): T;
  mean(a: T, dim?: number | number[] | null, keepdim?: boolean): T;
  max(a: T, dim?: number, keepdim?: boolean): T;
  argmax(a: T, dim?: number, keepdim?: boolean): T;
  softmax(a: T, dim: number): T; logSoftmax(a: T, dim: number): T;
  layerNorm(a: T, shape: number[], w?: T | null, b?: T | null, eps?: number): T;
  embedding(ids: T, weight: T, paddingIdx?: number): T;
  dropout(a: T, p: number, train?: boolean): T;
  crossEntropy(logits: T, target: T, ignoreIndex?: number, reduction?: 'mean' | 'sum' | 'none'): T;
}

type Named = Record<string, NativeTensor>;
/** native/model_binding.cc: one BERT (any head) with its optimizer. */
export interface NativeModel {
  parameterNames(): string[];
  setTrainable(names: string[], on: boolean): void;
  trainable(): string[];
  stateDict(): Named;
  loadStateDict(state: Named): { missing: string[]; unexpected: string[]; mismatched: string[] };
  grads(): Named;
  setGrads(grads: Named): void;
  forward(batch: object, opts?: { outputHiddenStates?: boolean; outputAttentions?: boolean; grad?: boolean; pooling?: 'mean' | 'cls' | 'max'; normalize?: boolean }): Promise<Record<string, NativeTensor | NativeTensor[]>>;
  forwardBackward(batch: object, lossScale?: number, sync?: boolean): Promise<number>;
  trainStep(batch: object, maxGradNorm?: number, skipNonFinite?: boolean): Promise<{ loss: number; gradNorm: number; lr: number; skipped: boolean }>;
  optimizerStep(maxGradNorm?: number, skipNonFinite?: boolean, loss?: number): Promise<{ gradNorm: number; lr: number; skipped: boolean }>;
  configureOptimizer(o: Record<string, unknown>): void;
  setLearningRate(lr: number): void;
  optimizerState(): { step: number; expAvg: Named; expAvgSq: Named } | null;
  loadOptimizerState(s: { step: number; expAvg: Named; expAvgSq: Named }): void;
  zeroGrad(): void;
  setTraining(on: boolean): void;
  setAutocast(dtype: string | null): void;
  setCudaGraphs(on: boolean): void;
  /** BertModel: in-batch-negatives training (native/embedding.h); null turns it off. */
  setObjective(o: { pooling: 'mean' | 'cls' | 'max'; scale: number; similarity: 'cosine' | 'dot' } | null): void;
  setProcessGroup(group: unknown, bucketBytes?: number): void;
  broadcastParameters(src?: number): Promise<void>;
  to(device: string, dtype?: string): void;
  describe(): {
    numParameters: number; device: string; training: boolean; optimizerStep: number; lr: number;
    cudaGraphs: boolean; graphReplays: number;
    /** With a process group: the overlapped all-reduce's counters (native/reducer.h). */
    gradReducer?: { buckets: number; reductions: number; launchedInBackward: number };
  };
  dispose(): void;
}

/** native/search_binding.cc: every call but describe/dispose runs on the compute thread, in order. */
export interface NativeExactIndex {
  add(ids: Float64Array, vectors: Float32Array): Promise<void>;
  remove(ids: Float64Array): Promise<number>;
  /** (Q x k) ids (-1 past the stored count) and scores (-Infinity there), best first. */
  search(queries: Float32Array, k: number): Promise<{ ids: Float64Array; scores: Float32Array }>;
  get(ids: Float64Array): Promise<Float32Array>;
  save(path: string): Promise<void>;
  load(path: string): Promise<void>;
  describe(): { size: number; dim: number; metric: 'cosine' | 'dot' };
  dispose(): void;
}

declare const binding: Binding;
export default binding;
