import { loadBinding } from './binding.js';

/**
 * Bytes this process may use: the machine's memory, or the lowest cgroup
 * limit over it (a container's limit is what the OOM killer enforces). The
 * same figure the CPU tensor cache sizes itself from.
 */
export function usableMemory(): number {
  return loadBinding().binding.usableMemory();
}
