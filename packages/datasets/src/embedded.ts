import { fileURLToPath } from 'node:url';

// src/ and dist/ sit side by side with data/, so one relative URL serves sources and the build.
/** The class-balanced Fashion-MNIST sample shipped in this package (gzipped IDX files). */
export const EMBEDDED_FASHION_MNIST_DIR = fileURLToPath(
  new URL('../data/fashion-mnist-sample/', import.meta.url),
);
