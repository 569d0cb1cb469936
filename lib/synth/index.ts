/** Synthetic customer-service text: intents, slots, noise, generator. Re-exports only. */
export * from './generator.js';
export { INTENTS, type IntentSpec } from './intents.js';
export { ENTITY_TYPES, type EntityType } from './slots.js';
export { typo } from './noise.js';
