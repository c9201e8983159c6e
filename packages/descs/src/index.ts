export * from './model-desc.js';
