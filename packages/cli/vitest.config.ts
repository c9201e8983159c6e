import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

// These tests mostly wait on child processes (the built `nas`, npm, Verdaccio, workers): two test
// files at a time keep both cores busy where vitest's default on 2 cores runs them one by one.
export default mergeConfig(shared, defineConfig({ test: { maxWorkers: 2 } }));
