export * from './seed.js';
export * from './safetensors.js';
