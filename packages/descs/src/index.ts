export * from './builder.js';
export * from './errors.js';
export * from './genotypes.js';
export * from './model-desc.js';
export * from './serialize.js';
