import { defineConfig } from 'vitest/config';

// One test configuration for every package: packages resolve each other's sources through the
// `@tsnas/source` export condition, so tests never need a prior build.
export default defineConfig({
  resolve: { conditions: ['@tsnas/source'] },
  ssr: { resolve: { conditions: ['@tsnas/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
