/**
 * Process groups over libtorch's c10d (TCPStore rendezvous; Gloo on CPU
 * tensors, NCCL on CUDA tensors where the libtorch has it):
 * the same environment contract as torch.distributed (MASTER_ADDR,
 * MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK), so scripts run under
 * bertorch-run, torchrun-style launchers, Slurm or Kubernetes alike.
 * Collectives run on worker threads and reject with TorchDistError when a
 * peer dies or the timeout passes — never a hang. destroy() closes the group.
 */
import { native } from '../binding.js';
import { invalidRange, invalidType, withCallSite } from '../errors.js';
import { Tensor, type Device } from '../tensor.js';

/** The largest world initProcessGroup accepts (native/dist.h kMaxWorldSize). */
export const MAX_WORLD_SIZE = 65536;

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min' | 'product';
export type Backend = 'gloo' | 'nccl';

export interface ProcessGroupOptions {
  /**
   * 'gloo' reduces CPU tensors; 'nccl' reduces CUDA tensors (one GPU per
   * process, `cuda:LOCAL_RANK`). See distributedBackends() for this build.
   * @default 'gloo'
   */
  backend?: Backend;
  /** @default env MASTER_ADDR or '127.0.0.1' */
  masterAddr?: string;
  /** @default env MASTER_PORT or 29500 */
  masterPort?: number;
  /** @default env RANK or 0 */
  rank?: number;
  /** @default env WORLD_SIZE or 1 */
  worldSize?: number;
  /** Rendezvous and every collective fail after this long. @default 60_000 */
  timeoutMs?: number;
}

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) invalidRange('a non-negative integer', `env ${name}`, v);
  return n;
}

/** rank / worldSize / localRank from the standard environment variables. */
export function distEnv(): { rank: number; worldSize: number; localRank: number; masterAddr: string; masterPort: number } {
  return {
    rank: envInt('RANK', 0),
    worldSize: envInt('WORLD_SIZE', 1),
    localRank: envInt('LOCAL_RANK', 0),
    masterAddr: process.env.MASTER_ADDR || '127.0.0.1',
    masterPort: envInt('MASTER_PORT', 29500),
  };
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly backend: Backend;
  /** Where this group's tensors must live: 'cpu' for Gloo, `cuda:LOCAL_RANK` for NCCL. */
  readonly device: Device;
  /** @internal */
  readonly handle: any;

  /** @internal use initProcessGroup() */
  constructor(handle: any, backend: Backend = 'gloo', localRank = 0) {
    this.handle = handle;
    this.rank = handle.rank();
    this.worldSize = handle.worldSize();
    this.backend = backend;
    this.device = backend === 'nccl' ? `cuda:${localRank}` : 'cpu';
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    const site = new Error();
    try { return await fn(); } catch (e) { throw withCallSite(e, site); }
  }

  /** Reduces `t` across ranks in place (and resolves to it). @default op 'sum' */
  allReduce(t: Tensor, op: ReduceOp = 'sum'): Promise<Tensor> {
    if (!(t instanceof Tensor)) invalidType('a Tensor', 'tensor', t);
    if (!['sum', 'avg', 'max', 'min', 'product'].includes(op)) invalidRange("'sum', 'avg', 'max', 'min' or 'product'", 'op', op);
    return this.#run(async () => new Tensor(await this.handle.allReduce(t.handle, op)));
  }
  /** Copies rank `src`'s `t` into every rank's `t`. */
  broadcast(t: Tensor, src = 0): Promise<Tensor> {
    if (!(t instanceof Tensor)) invalidType('a Tensor', 'tensor', t);
    if (!Number.isInteger(src) || src < 0 || src >= this.worldSize) invalidRange(`a rank in [0, ${this.worldSize})`, 'src', src);
    return this.#run(async () => new Tensor(await this.handle.broadcast(t.handle, src)));
  }
  /** Every rank's `t`, in rank order. */
  allGather(t: Tensor): Promise<Tensor[]> {
    if (!(t instanceof Tensor)) invalidType('a Tensor', 'tensor', t);
    return this.#run(async () => ((await this.handle.allGather(t.handle)) as any[]).map((h) => new Tensor(h)));
  }
  /** Resolves when every rank has called barrier(). */
  barrier(): Promise<void> {
    return this.#run(() => this.handle.barrier());
  }
  /** Closes the connections; later calls throw ERR_DISPOSED. */
  destroy(): void {
    this.handle.destroy();
  }
}

/**
 * Joins the process group described by `options`, falling back to the
 * standard environment variables. Rank 0 hosts the TCPStore.
 * @throws TorchDistError when the rendezvous times out.
 * @example const pg = await initProcessGroup(); // under bertorch-run
 */
export async function initProcessGroup(options: ProcessGroupOptions = {}): Promise<ProcessGroup> {
  const env = distEnv();
  const o = {
    backend: options.backend ?? 'gloo',
    masterAddr: options.masterAddr ?? env.masterAddr,
    masterPort: options.masterPort ?? env.masterPort,
    rank: options.rank ?? env.rank,
    worldSize: options.worldSize ?? env.worldSize,
    timeoutMs: options.timeoutMs ?? 60_000,
  };
  if (o.backend !== 'gloo' && o.backend !== 'nccl') invalidRange("'gloo' or 'nccl'", 'backend', o.backend);
  // Each Gloo rank connects to every other: a bigger world (a typo such as
  // WORLD_SIZE=1e10) would exhaust memory in the rendezvous instead of failing.
  if (!Number.isInteger(o.worldSize) || o.worldSize < 1 || o.worldSize > MAX_WORLD_SIZE) invalidRange(`an integer in [1, ${MAX_WORLD_SIZE}]`, 'worldSize', o.worldSize);
  if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.worldSize) invalidRange(`an integer in [0, ${o.worldSize})`, 'rank', o.rank);
  if (!Number.isInteger(o.masterPort) || o.masterPort < 1 || o.masterPort > 65535) invalidRange('a port in [1, 65535]', 'masterPort', o.masterPort);
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 1) invalidRange('a positive integer', 'timeoutMs', o.timeoutMs);
  const site = new Error();
  try {
    return new ProcessGroup(await native().initProcessGroup(o), o.backend, env.localRank);
  } catch (e) {
    throw withCallSite(e, site);
  }
}

/** True when this build of the addon has torch.distributed (Gloo or NCCL). */
export function distributedAvailable(): boolean {
  return native().distAvailable();
}

/** The c10d backends this build has: 'gloo' (Gloo's headers found at build time), 'nccl' (a CUDA libtorch and NCCL's headers). */
export function distributedBackends(): Backend[] {
  return native().distBackends() as Backend[];
}
