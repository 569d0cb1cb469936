// Run as a script by lifecycle.test.ts: worker_threads whose native jobs are
// still running when they exit or are terminated. Their environment (and the
// thread-safe function that would carry the results back) is gone when the
// jobs finish; the process must go on. Plain JS so the worker needs no loader.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const N = createRequire(import.meta.url)('node-gyp-build')(root);

if (isMainThread) {
  for (const mode of ['matmul', 'trainStep', 'exit']) {
    const w = new Worker(fileURLToPath(import.meta.url), { workerData: mode });
    const exited = new Promise((resolve) => w.on('exit', resolve));  // before the message: 'exit' may follow at once
    await new Promise((resolve) => w.on('message', resolve));
    if (mode !== 'exit') await w.terminate();
    await exited;
  }
  // The executor threads are shared: the main thread's own jobs still complete.
  const a = N.zeros([64, 64]);
  const shape = N.shape(await N.matmulAsync(a, a, 2));
  await new Promise((resolve) => setTimeout(resolve, 1500));  // the workers' jobs finish meanwhile
  console.log(JSON.stringify({ survived: true, shape }));
} else {
  const a = N.zeros([400, 400]);
  if (workerData === 'trainStep') {
    const m = new N.Model({ vocab_size: 500, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 256, num_labels: 2 }, 'BertForMaskedLM', 1);
    m.configureOptimizer({});
    m.trainStep({ inputIds: new BigInt64Array(4 * 256), shape: [4, 256], labels: new BigInt64Array(4 * 256) });
  } else {
    N.matmulAsync(a, a, 100);
    N.data(a);
  }
  parentPort.postMessage('started');
  if (workerData === 'exit') process.exit(0);
}
