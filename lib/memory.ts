// How much memory this process may use, for the checks that refuse a config
// or a padding that cannot fit. Pure TypeScript (no libtorch): the tokenizer
// uses it too. native/cpu_allocator.cc computes the same figure for the CPU
// tensor cache; test/cpu-allocator.test.ts checks that the two agree.
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

let cached: number | undefined;

/**
 * Bytes this process may use: the machine's memory, or the lowest cgroup
 * limit over this process (v2: its own cgroup and every parent; v1: the
 * memory controller's), since a container's limit is what the OOM killer enforces.
 */
export function usableMemory(): number {
  return (cached ??= readUsableMemory());
}

function readUsableMemory(): number {
  let bytes = totalmem();
  const clamp = (file: string) => {
    try {
      const v = Number(readFileSync(file, 'utf8').trim());  // "max" is NaN
      if (v > 0 && v < bytes) bytes = v;
    } catch { /* no such file: no limit there */ }
  };
  let v2: string | undefined, v1: string | undefined;
  try {
    for (const line of readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
      if (line.startsWith('0::')) v2 = line.slice(3);
      const m = line.indexOf(':memory:');
      if (m >= 0) v1 = line.slice(m + 8);
    }
  } catch { /* not Linux */ }
  const walk = (rel: string | undefined, root: string, file: string) => {
    for (let dir = rel ?? ''; dir !== '' && dir !== '/'; dir = dir.slice(0, dir.lastIndexOf('/'))) clamp(`${root}${dir}/${file}`);
    clamp(`${root}/${file}`);
  };
  walk(v2, '/sys/fs/cgroup', 'memory.max');
  walk(v1, '/sys/fs/cgroup/memory', 'memory.limit_in_bytes');
  return bytes;
}
