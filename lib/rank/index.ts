/** Recommendation: a cross-encoder ranker fine-tuned on clicks, and ranking metrics. Re-exports only. */
export * from './metrics.js';
export * from './ranker.js';
export { wordOverlapScores, bm25Scores } from './baselines.js';
export { RetrieveThenRank, type RetrievedItem, type RetrieveOptions } from './retrieve.js';
