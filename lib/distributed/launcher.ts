/**
 * bertorch-run: starts N local processes of a script with the torch.distributed
 * environment set (MASTER_ADDR/PORT, RANK, WORLD_SIZE, LOCAL_RANK), prefixes
 * their output with the rank, and when one exits non-zero (or dies) stops the
 * others and exits non-zero itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface LaunchOptions {
  nproc: number;
  script: string;
  args?: string[];
  masterAddr?: string;
  /** @default a free port */
  masterPort?: number;
  /** Extra node flags (e.g. ['--import', 'tsx']). */
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Where rank-prefixed lines go. @default process.stdout / stderr */
  out?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** A TCP port that was free a moment ago, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs the job; resolves to the exit code (0 when every rank succeeded). */
export async function launch(o: LaunchOptions): Promise<number> {
  if (!Number.isInteger(o.nproc) || o.nproc < 1) throw new RangeError(`Expected a positive integer for nproc but received ${o.nproc}`);
  const port = o.masterPort ?? (await freePort());
  const out = o.out ?? ((line, s) => (s === 'stdout' ? process.stdout : process.stderr).write(line + '\n'));
  // Split the cores between ranks so they do not oversubscribe each other.
  const threads = Math.max(1, Math.floor((await import('node:os')).availableParallelism() / o.nproc));
  const children: ChildProcess[] = [];
  let failed = 0;
  const exits = Array.from({ length: o.nproc }, (_, rank) => new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), o.script, ...(o.args ?? [])], {
      env: {
        ...process.env, ...o.env,
        MASTER_ADDR: o.masterAddr ?? '127.0.0.1', MASTER_PORT: String(port),
        RANK: String(rank), LOCAL_RANK: String(rank), WORLD_SIZE: String(o.nproc),
        BERTORCH_NUM_THREADS: process.env.BERTORCH_NUM_THREADS ?? String(threads),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    for (const [stream, name] of [[child.stdout!, 'stdout'], [child.stderr!, 'stderr']] as const)
      createInterface({ input: stream }).on('line', (l) => out(`[rank ${rank}] ${l}`, name));
    child.on('exit', (code, signal) => {
      const rc = code ?? (signal ? 128 + 9 : 1);
      if (rc !== 0 && failed === 0) {
        failed = rc;
        out(`[bertorch-run] rank ${rank} exited with ${signal ?? code}; stopping the other ranks`, 'stderr');
        for (const c of children) if (c !== child && c.exitCode === null) c.kill('SIGTERM');
      }
      resolve(rc);
    });
  }));
  const codes = await Promise.all(exits);
  return failed || codes.find((c) => c !== 0) || 0;
}
