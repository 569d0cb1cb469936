// The bf16 tolerance the README documents, measured the same way on every
// device: 30 steps on the same batches in float32 and under bf16 autocast,
// every bf16 loss within 5% (relative) of the float32 loss at that step.
import { BertForSequenceClassification } from '../../lib/index.js';

export const BF16_CURVE_TOL = 0.05;

const CFG = {
  vocab_size: 200, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, max_position_embeddings: 32,
  hidden_dropout_prob: 0, attention_probs_dropout_prob: 0, id2label: { 0: 'a', 1: 'b', 2: 'c' }, label2id: { a: 0, b: 1, c: 2 },
};

export async function bf16LossCurves(device: 'cpu' | 'cuda'): Promise<{ fp32: number[]; bf16: number[]; worstRel: number }> {
  const batches = Array.from({ length: 30 }, (_, s) => {
    const ids = new BigInt64Array(8 * 32).map((_, i) => BigInt(((i * 7 + s * 13) % 197) + 2));
    const labels = new BigInt64Array(8).map((_, i) => BigInt((i + s) % 3));
    return { inputIds: ids, labels, shape: [8, 32] as [number, number] };
  });
  const run = async (bf16: boolean) => {
    const m = BertForSequenceClassification.create(CFG, { seed: 3 }).to(device);
    if (bf16) m.autocast('bfloat16');
    m.configureOptimizer({ lr: 1e-3 });
    const losses: number[] = [];
    for (const b of batches) losses.push((await m.trainStep(b)).loss);
    m.dispose();
    return losses;
  };
  const fp32 = await run(false);
  const bf16 = await run(true);
  const worstRel = Math.max(...fp32.map((l, i) => Math.abs(bf16[i] - l) / Math.abs(l)));
  return { fp32, bf16, worstRel };
}
