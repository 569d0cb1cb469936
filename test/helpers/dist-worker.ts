// A rank of the distributed tests (run by bertorch-run). Modes:
//   train OUT  - data-parallel training on this rank's half of a fixed batch;
//                rank 0 writes the final parameters to OUT as JSON
//   collectives - allReduce / broadcast / allGather / barrier; prints results
//   die        - rank 1 exits right after joining; rank 0's next collective
//                must fail with TorchDistError within the timeout
import { writeFileSync } from 'node:fs';
import { BertForSequenceClassification, initProcessGroup, tensor, TorchDistError } from '../../lib/index.js';
import { TINY, STEPS, fullBatch, sliceBatch } from './dist-data.js';

const [mode, out] = process.argv.slice(2);
const pg = await initProcessGroup({ timeoutMs: mode === 'die' ? 3000 : 30_000 });

if (mode === 'train') {
  const m = BertForSequenceClassification.create(TINY, { seed: 10 + pg.rank }).eval();  // different inits: broadcast must fix it
  m.setProcessGroup(pg);
  await m.broadcastParameters(0);
  m.configureOptimizer({ lr: 1e-3, eps: 1e-6 });  // see dist-data.ts on eps
  for (let s = 0; s < STEPS; s++) await m.trainStep(sliceBatch(fullBatch(s), pg.rank, pg.worldSize));
  if (pg.rank === 0) writeFileSync(out, JSON.stringify(Object.fromEntries([...m.stateDict()].map(([k, t]) => [k, [...(t.toArray() as Float32Array)]]))));
  await pg.barrier();
} else if (mode === 'collectives') {
  const x = tensor([pg.rank + 1, 10 * (pg.rank + 1)]);
  await pg.allReduce(x, 'sum');
  const b = tensor([pg.rank === 1 ? 42 : 0]);
  await pg.broadcast(b, 1);
  const g = await pg.allGather(tensor([pg.rank]));
  await pg.barrier();
  console.log(JSON.stringify({ rank: pg.rank, sum: [...x.toArray()], bcast: [...b.toArray()], gathered: g.map((t) => t.item()) }));
} else if (mode === 'die') {
  if (pg.rank === 1) process.exit(0);
  const t0 = Date.now();
  try {
    await new Promise((r) => setTimeout(r, 300));
    await pg.allReduce(tensor([1]));
    console.log('UNEXPECTED: allReduce succeeded');
  } catch (e) {
    console.log(JSON.stringify({ dist: e instanceof TorchDistError, name: (e as Error).name, message: (e as Error).message.split('\n')[0], ms: Date.now() - t0 }));
    process.exit(3);
  }
}
pg.destroy();
