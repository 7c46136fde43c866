import { defineConfig } from 'vitest/config';

// The real-cluster suite: one process, one file at a time; the first run builds
// kube-apiserver and etcd (cached afterwards), hence the long hook timeout.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 50 * 60_000,
  },
});
