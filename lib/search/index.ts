export { ExactIndex } from './exact.js';
export { HnswIndex, type HnswOptions } from './hnsw.js';
export { SearchResults, type Hit, type Metric, type VectorIndex } from './types.js';
