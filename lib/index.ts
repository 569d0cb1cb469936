/** bertorch: the public surface. Re-exports only. */
export * from './errors.js';
export * from './tensor.js';
export * from './info.js';
export * from './models/index.js';
export * from './distributed/index.js';
