/**
 * BERT inference benchmark against HF transformers on PyTorch: sequence
 * classification forward passes in eval mode, logits read back to the host,
 * for batch 1 (latency) and larger batches (throughput).
 *
 *   npx tsx scripts/bench/infer.ts [--models mini,small,base] [--batches 1,8,32]
 *       [--seq 128] [--seconds 3] [--threads N] [--bf16] [--device cpu|cuda] [--quiet-wait 5] [--no-peer]
 *
 * Each (model, batch) trial runs in a fresh Node process, then peer_infer.py
 * runs the same config (attn_implementation='sdpa', torch.inference_mode(),
 * same synthetic batches, same threads). Calls repeat for `--seconds` after
 * 3 warm-up calls. Per side: p50 / p99 latency per call and sequences/s.
 * stdout: JSON lines only.
 */
import { BertForSequenceClassification, PRESETS } from '../../lib/index.js';
import {
  emit, envFields, intFlag, listFlag, loadProbe, log, makeBatch, now, parseFlags, peakRssMB, round, runPeer, runTsChild,
  useThreads, waitQuiet, type Json, type ModelDims,
} from './common.js';

type ModelName = 'mini' | 'small' | 'base';
const MODEL_NAMES: readonly ModelName[] = ['mini', 'small', 'base'];
const VOCAB = 30522;
const WARMUP = 3;

/** One trial: the same on both sides. */
export interface InferTrial { model: ModelName; dims: ModelDims; batch: number; seq: number; seconds: number; bf16: boolean; device?: 'cpu' | 'cuda' }

function dims(name: ModelName): ModelDims {
  const p = PRESETS[name];
  return { layers: p.num_hidden_layers, hidden: p.hidden_size, heads: p.num_attention_heads, intermediate: p.intermediate_size, vocab: VOCAB };
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Latency percentiles and throughput of a list of per-call milliseconds (peer_infer.py summarises the same way). */
export function summarise(ms: number[], batch: number): Json {
  const s = [...ms].sort((a, b) => a - b);
  const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
  return { calls: ms.length, p50_ms: round(percentile(s, 0.5), 2), p99_ms: round(percentile(s, 0.99), 2), seq_s: round((batch * 1000) / mean, 1) };
}

async function child(t: InferTrial, threads: number): Promise<void> {
  const d = t.dims;
  const m = BertForSequenceClassification.create({
    vocab_size: d.vocab, hidden_size: d.hidden, num_hidden_layers: d.layers, num_attention_heads: d.heads, intermediate_size: d.intermediate,
  }, { seed: 0 }).eval();
  if (t.device === 'cuda') m.to('cuda');
  if (t.bf16) m.autocast('bfloat16');
  const { inputIds, attentionMask, tokenTypeIds, shape } = makeBatch('seqcls', t.batch, t.seq, d.vocab, 2000).batch;
  const batch = { inputIds, attentionMask, tokenTypeIds, shape };
  const call = async () => {
    const out = await m.forward(batch);
    const logits = await out.logits.data();  // to the host, as the peer's .cpu().numpy()
    out.logits.dispose();
    return logits;
  };
  for (let i = 0; i < WARMUP; i++) await call();
  const probe = loadProbe();
  const ms: number[] = [];
  const t0 = now();
  while (now() - t0 < t.seconds || ms.length < 5) {
    const s = now();
    await call();
    ms.push((now() - s) * 1e3);
  }
  emit({
    bench: 'infer', impl: 'bertorch', model: t.model, batch: t.batch, seq: t.seq, precision: t.bf16 ? 'bf16 autocast' : 'float32', device: t.device ?? 'cpu',
    ...summarise(ms, t.batch), peak_rss_mb: round(peakRssMB(), 1), other_load: probe(), ...envFields(threads),
  });
  m.dispose();
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const threads = useThreads(flags);
  if (flags.has('child')) return child(JSON.parse(flags.get('child')!) as InferTrial, threads);
  const models = listFlag(flags, 'models', ['mini', 'small', 'base'], MODEL_NAMES);
  const batches = (flags.get('batches') ?? '1,8,32').split(',').map(Number);
  if (!batches.every((b) => Number.isInteger(b) && b > 0)) throw new RangeError(`--batches: expected positive integers, got ${flags.get('batches')}`);
  const seq = intFlag(flags, 'seq', 128);
  const seconds = Number(flags.get('seconds') ?? 3);
  const bf16 = flags.has('bf16');
  const device = flags.get('device') ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') throw new RangeError(`--device: expected cpu or cuda, got '${device}'`);
  const quiet = Number(flags.get('quiet-wait') ?? 5);
  const trials: InferTrial[] = models.flatMap((model) => batches.map((batch) => ({ model, dims: dims(model), batch, seq, seconds, bf16, device })));
  let peerError: string | undefined;
  for (const t of trials) {
    const key = `${t.model} B${t.batch} T${t.seq}`;
    let ours: Json | undefined;
    let peer: Json | undefined;
    await waitQuiet(quiet);
    log(`infer ${key}: bertorch`);
    await runTsChild('infer.ts', ['--child', JSON.stringify(t), '--threads', String(threads)], (r) => { ours = r; emit(r); });
    if (!flags.has('no-peer') && !peerError) {
      await waitQuiet(quiet);
      log(`infer ${key}: pytorch peer`);
      try {
        await runPeer('peer_infer.py', ['--trial', JSON.stringify(t), '--threads', String(threads)], (r) => { peer = r; emit(r); });
      } catch (e) {
        peerError = (e as Error).message;
        emit({ bench: 'infer', peer: 'pytorch', error: peerError });
      }
    }
    if (ours && peer) {
      emit({
        bench: 'infer', kind: 'ratio', model: t.model, batch: t.batch, seq: t.seq, precision: ours.precision, device: t.device,
        ours_seq_s: ours.seq_s, peer_seq_s: peer.seq_s, ours_over_peer: round((ours.seq_s as number) / (peer.seq_s as number), 3),
        ours_p50_ms: ours.p50_ms, peer_p50_ms: peer.p50_ms, ours_p99_ms: ours.p99_ms, peer_p99_ms: peer.p99_ms, note: '>1: bertorch faster',
      });
    }
  }
}

await main();
