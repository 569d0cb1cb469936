/** Training: Trainer, batch sources, checkpoints, progress and report.html. Re-exports only. */
export * from './trainer.js';
export * from './options.js';
export * from './callbacks.js';
export * from './source.js';
export * from './array-source.js';
export * from './predictions.js';
export * from './report.js';
export { saveCheckpoint, loadCheckpointInto, loadWeightsInto, readTrainerState, listCheckpoints, rotateCheckpoints } from './checkpoint.js';
export { lossTerms, labelsToArray } from './batch-utils.js';
export { MlmSource, type MlmSourceOptions } from './mlm-batches.js';
