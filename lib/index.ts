/** bertorch: the public surface. Re-exports only. */
export * from './errors.js';
export * from './tensor.js';
export * from './info.js';
export * from './models/index.js';
export * from './tokenizer.js';
export * from './data/index.js';
export * from './metrics/index.js';
export * from './train/index.js';
export * from './serve/index.js';
export * from './distributed/index.js';
export * from './federated/index.js';
export * from './profiler.js';
export * from './monitor/index.js';
export * from './rank/index.js';
export * from './embeddings/index.js';
export * from './search/index.js';
export * from './faq/index.js';
// lib/data declares the same Batch and ProblemType shapes without importing the
// addon (DESIGN: data never imports native code); the models' are canonical.
export type { Batch, ProblemType } from './models/index.js';
