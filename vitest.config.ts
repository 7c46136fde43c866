import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The suites spend most of their time waiting on sockets, child processes and timers (a full
    // run with vitest's default of cores - 1 files at once kept one core of two busy), so twice as
    // many files as cores run at once. A percentage cannot say this: vitest caps it at the cores.
    maxWorkers: 2 * availableParallelism(),
  },
});
