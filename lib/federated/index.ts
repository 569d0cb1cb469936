/** Federated learning: weights as data, strategies, validation, DP, simulation and HTTP transports. Re-exports only. */
export * from './weights.js';
export * from './codec.js';
export * from './validate.js';
export * from './strategies.js';
export * from './dp.js';
export * from './accountant.js';
export * from './server.js';
export * from './client.js';
export * from './simulation.js';
export * from './http.js';
export * from './partition.js';
export * from './security.js';
export * from './certs.js';
export * from './flower.js';
