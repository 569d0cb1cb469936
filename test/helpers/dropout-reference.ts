// Child of dropout.test.ts, run with BERTORCH_FUSED_DROPOUT=0: one training
// step's op names and a dropout's kept fraction, as one JSON line.
import { BertForSequenceClassification, manualSeed, ones, profile } from '../../lib/index.js';

const tiny = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 };
const m = BertForSequenceClassification.create(tiny, { seed: 1 });
m.configureOptimizer({ lr: 1e-3 });
const batch = { inputIds: new BigInt64Array(2 * 8).fill(3n), labels: new BigInt64Array([0n, 1n]), shape: [2, 8] as [number, number] };
const { summary } = await profile(() => m.trainStep(batch), { top: 200 });
manualSeed(1);
const n = 1 << 20;
const y = ones([n]).dropout(0.1).toArray();
let kept = 0;
for (const v of y) if (v !== 0) kept++;
console.log(JSON.stringify({ ops: summary.cpuOps.map((r) => r.name), kept: kept / n, n }));
