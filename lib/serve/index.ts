/** Serving: micro-batched, async predict() for a Node service. Re-exports only. */
export * from './batcher.js';
export * from './postprocess.js';
export { createPredictor, Predictor, type Prediction, type PredictorOptions, type PredictorSource, type PredictorStats, type PredictorTask } from './predictor.js';
