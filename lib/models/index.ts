/** Models: configs, BERT classes, checkpoints. Re-exports only. */
export * from './config.js';
export * from './bert.js';
export { SafetensorsError, readSafetensors, writeSafetensors, loadStateDictFiles } from './safetensors.js';
export { recordToTensor, tensorToRecord } from './state.js';
export * from './electra.js';
