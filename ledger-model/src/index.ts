// CommonJS, so that both the chaincode (CommonJS) and the gateway (ESM) load it.
export * from './vocabulary.js';
export * from './values.js';
export * from './audit.js';
export * from './formats.js';
export * from './errors.js';
export * from './events.js';
export * from './access-rule.js';
export * from './break-glass.js';
export * from './research.js';
export * from './majority.js';
