/** Scale-out over torch.distributed (c10d). Re-exports only. */
export * from './process-group.js';
export * from './launcher.js';
