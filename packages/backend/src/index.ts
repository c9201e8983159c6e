export * from './seed.js';
