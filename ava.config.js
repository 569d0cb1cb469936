// Each test file runs in its own process: a native crash or CUDA state stays contained.
export default {
  files: ['test/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx', '--expose-gc'],
  workerThreads: false,
  timeout: '5m',
  concurrency: 2,
};
