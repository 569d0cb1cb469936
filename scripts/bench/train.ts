/**
 * BERT training-step benchmark against HF transformers on PyTorch.
 *
 *   npx tsx scripts/bench/train.ts [--models mini,small] [--tasks seqcls,mlm]
 *       [--steps N] [--warmup N] [--seq 128] [--batch 8] [--threads N]
 *       [--peak-gflops X] [--quiet-wait 5] [--no-peer] [--bf16]
 *   npx tsx scripts/bench/train.ts --leak-steps 2000 [--batch 2 --seq 32] [--tasks seqcls] [--every 200]
 *
 * Each (model, task) trial trains in a fresh Node process (peak RSS is that
 * trial's alone), then peer_train.py trains the same config through HF
 * transformers (attn_implementation='sdpa', torch.optim.AdamW, same threads,
 * same synthetic batches). The parent adds FLOPs, MFU and ratios so both sides
 * use one formula (common.ts trainFlopsPerStep) and one matmul peak.
 * stdout: JSON lines only.
 */
import {
  emit, envFields, intFlag, listFlag, loadProbe, log, makeBatch, measureMatmul, median, now, parseFlags, peakRssMB,
  round, rssMB, runPeer, runTsChild, TASKS, trainFlopsPerStep, useThreads, waitQuiet, type Json, type ModelDims, type Task,
} from './common.js';
import { BertForMaskedLM, BertForSequenceClassification, liveTensors, PRESETS } from '../../lib/index.js';

type ModelName = 'mini' | 'small' | 'base' | 'thin';
const MODEL_NAMES: readonly ModelName[] = ['mini', 'small', 'base', 'thin'];
const VOCAB = 30522;

/** The models, and how many steps each times by default (base is slow on a CPU). */
export const MODELS: Record<ModelName, { dims: ModelDims; steps: number; warmup: number }> = {
  mini: { dims: dimsOf(PRESETS.mini), steps: 10, warmup: 2 },
  small: { dims: dimsOf(PRESETS.small), steps: 6, warmup: 2 },
  base: { dims: dimsOf(PRESETS.base), steps: 3, warmup: 1 },
  // BERT-base's 12 layers x 12 heads at hidden 48: the math is ~nothing, so a
  // step's time is dispatch, autograd and allocation, i.e. the host time a GPU
  // step cannot go under in eager mode. Run it with --batch 2 --seq 16 --threads 1.
  thin: { dims: { layers: 12, hidden: 48, heads: 12, intermediate: 192, vocab: 1024 }, steps: 60, warmup: 10 },
};

function dimsOf(p: { num_hidden_layers: number; hidden_size: number; num_attention_heads: number; intermediate_size: number }): ModelDims {
  return { layers: p.num_hidden_layers, hidden: p.hidden_size, heads: p.num_attention_heads, intermediate: p.intermediate_size, vocab: VOCAB };
}

/** One trial: trained in a fresh process on each side. */
export interface TrainTrial {
  model: ModelName; task: Task; dims: ModelDims; batch: number; seq: number; steps: number; warmup: number;
  /** bf16 autocast on both sides (--bf16); MFU is then against the bf16 matmul peak. */
  bf16?: boolean;
}

/** Same optimizer settings on both sides. */
const OPT = { lr: 5e-5, weightDecay: 0.01, maxGradNorm: 1.0 };
/** Distinct synthetic batches cycled through (made before timing). */
const NUM_BATCHES = 4;

function createModel(t: Pick<TrainTrial, 'task' | 'dims'>) {
  const cfg = {
    vocab_size: t.dims.vocab, hidden_size: t.dims.hidden, num_hidden_layers: t.dims.layers,
    num_attention_heads: t.dims.heads, intermediate_size: t.dims.intermediate,
  };
  const m = t.task === 'mlm' ? BertForMaskedLM.create(cfg, { seed: 0 }) : BertForSequenceClassification.create(cfg, { seed: 0 });
  m.train();
  m.configureOptimizer({ lr: OPT.lr, weightDecay: OPT.weightDecay });
  return m;
}

/** Child: trains one trial and prints one raw record (timings, RSS). */
async function child(t: TrainTrial, threads: number): Promise<void> {
  const rssBase = rssMB();
  const m = createModel(t);
  if (t.bf16) m.autocast('bfloat16');
  const batches = Array.from({ length: NUM_BATCHES }, (_, i) => makeBatch(t.task, t.batch, t.seq, t.dims.vocab, 1000 + i).batch);
  const losses: number[] = [];
  for (let i = 0; i < t.warmup; i++) losses.push((await m.trainStep(batches[i % NUM_BATCHES], { maxGradNorm: OPT.maxGradNorm })).loss);
  const probe = loadProbe();
  const ms: number[] = [];
  for (let i = 0; i < t.steps; i++) {
    const t0 = now();
    const r = await m.trainStep(batches[(t.warmup + i) % NUM_BATCHES], { maxGradNorm: OPT.maxGradNorm });
    ms.push((now() - t0) * 1e3);
    losses.push(r.loss);
  }
  const otherLoad = probe();
  const params = m.numParameters;
  m.dispose();
  emit({
    bench: 'train', impl: 'bertorch', model: t.model, task: t.task, batch: t.batch, seq: t.seq, warmup: t.warmup, steps: t.steps,
    precision: t.bf16 ? 'bf16 autocast' : 'float32',
    ms_step: round(median(ms), 1), ms_steps: ms.map((x) => round(x, 1)), params,
    loss_first: round(losses[0], 4), loss_last: round(losses.at(-1)!, 4),
    rss_base_mb: round(rssBase, 1), peak_rss_mb: round(peakRssMB(), 1), other_load: otherLoad, ...envFields(threads),
  });
}

/** Adds throughput, FLOPs and MFU to a raw record (ours or the peer's). */
function derive(r: Json, t: TrainTrial, peakGflops: number): Json {
  const sec = (r.ms_step as number) / 1e3;
  const flops = trainFlopsPerStep(t.dims, t.task, t.batch, t.seq);
  const achieved = flops / sec / 1e9;
  return {
    ...r,
    seq_s: round(t.batch / sec, 2), tok_s: round((t.batch * t.seq) / sec, 0),
    gflop_step: round(flops / 1e9, 1), achieved_gflops: round(achieved, 1), peak_gflops: round(peakGflops, 1), mfu: round(achieved / peakGflops, 3),
  };
}

/** --leak-steps: trains BERT-mini N steps in this process, a fresh batch (new typed arrays) each step. */
async function leak(flags: Map<string, string>): Promise<void> {
  const threads = useThreads(flags);
  const steps = intFlag(flags, 'leak-steps', 2000);
  const every = intFlag(flags, 'every', 200);
  const task = listFlag(flags, 'tasks', ['seqcls'], TASKS)[0];
  const batch = intFlag(flags, 'batch', 8), seq = intFlag(flags, 'seq', 128);
  const dims = MODELS.mini.dims;
  const m = createModel({ task, dims });
  const points: { step: number; rss: number }[] = [];
  const t0 = now();
  let tLast = t0;
  for (let s = 1; s <= steps; s++) {
    await m.trainStep(makeBatch(task, batch, seq, dims.vocab, s).batch, { maxGradNorm: OPT.maxGradNorm });
    if (s % every === 0 || s === steps) {
      const t = now();
      const mem = process.memoryUsage();
      const rec = {
        bench: 'train-leak', model: 'mini', task, batch, seq, step: s, rss_mb: round(mem.rss / 2 ** 20, 1), peak_rss_mb: round(peakRssMB(), 1),
        heap_used_mb: round(mem.heapUsed / 2 ** 20, 1), external_mb: round(mem.external / 2 ** 20, 1), live_tensors: liveTensors(),
        ms_step: round(((t - tLast) / (s - (points.at(-1)?.step ?? 0))) * 1e3, 1), elapsed_s: round(t - t0, 1),
      };
      tLast = t;
      points.push({ step: s, rss: rec.rss_mb });
      emit(rec);
    }
  }
  m.dispose();
  // Least-squares slope of RSS over the reports after the first (allocator warm-up).
  const tail = points.length > 2 ? points.slice(1) : points;
  const mx = tail.reduce((a, p) => a + p.step, 0) / tail.length, my = tail.reduce((a, p) => a + p.rss, 0) / tail.length;
  const sxx = tail.reduce((a, p) => a + (p.step - mx) ** 2, 0);
  const slope = sxx > 0 ? tail.reduce((a, p) => a + (p.step - mx) * (p.rss - my), 0) / sxx : 0;
  emit({
    bench: 'train-leak', kind: 'summary', model: 'mini', task, batch, seq, steps,
    rss_first_mb: points[0]?.rss, rss_last_mb: points.at(-1)?.rss, rss_min_mb: Math.min(...points.map((p) => p.rss)), rss_max_mb: Math.max(...points.map((p) => p.rss)),
    rss_slope_mb_per_1k_steps: round(slope * 1000, 2), seconds: round(now() - t0, 1), ...envFields(threads),
  });
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.has('child')) {
    const threads = useThreads(flags);
    return child(JSON.parse(flags.get('child')!) as TrainTrial, threads);
  }
  if (flags.has('leak-steps')) return leak(flags);

  const threads = useThreads(flags);
  const models = listFlag(flags, 'models', ['mini', 'small'], MODEL_NAMES);
  const tasks = listFlag(flags, 'tasks', [...TASKS], TASKS);
  const batch = intFlag(flags, 'batch', 8), seq = intFlag(flags, 'seq', 128);
  const quiet = Number(flags.get('quiet-wait') ?? 5);
  const bf16 = flags.has('bf16');
  const trials: TrainTrial[] = models.flatMap((model) => tasks.map((task) => ({
    model, task, dims: MODELS[model].dims, batch, seq, bf16,
    steps: intFlag(flags, 'steps', MODELS[model].steps), warmup: intFlag(flags, 'warmup', MODELS[model].warmup),
  })));

  let peak = Number(flags.get('peak-gflops') ?? NaN);
  if (!(peak > 0)) {
    await waitQuiet(quiet);
    const probe = loadProbe();
    // The roof: the fastest of the samples (other processes only ever slow a sample down).
    const p = measureMatmul(2048, 2, 7, bf16 ? 'bfloat16' : 'float32');
    peak = p.gflopsBest;
    const otherLoad = probe();
    const warning = otherLoad !== null && otherLoad > 0.25 ? 'measured under other load: the peak is low and MFU high; pass --peak-gflops from a quiet run' : undefined;
    if (warning) log(warning);
    emit({ bench: 'train', kind: 'peak', what: `${bf16 ? 'bfloat16' : 'float32'} matmul 2048, best of 7 (MFU denominator)`, gflops: round(p.gflopsBest, 1), gflops_median: round(p.gflops, 1), other_load: otherLoad, warning, ...envFields(threads) });
  }

  const ours = new Map<string, Json>();
  const peer = new Map<string, Json>();
  let peerError: string | undefined;
  for (const t of trials) {
    const key = `${t.model}/${t.task}`;
    await waitQuiet(quiet);
    log(`train ${key}: bertorch (B${t.batch} T${t.seq}, ${t.warmup}+${t.steps} steps, ${threads} threads)`);
    await runTsChild('train.ts', ['--child', JSON.stringify(t), '--threads', String(threads)], (r) => {
      const d = derive(r, t, peak);
      ours.set(key, d);
      emit(d);
    });
    if (flags.has('no-peer') || peerError) continue;
    await waitQuiet(quiet);
    log(`train ${key}: pytorch peer`);
    try {
      await runPeer('peer_train.py', ['--trial', JSON.stringify(t), '--threads', String(threads)], (r) => {
        const d = derive(r, t, peak);
        peer.set(key, d);
        emit(d);
      });
    } catch (e) {
      peerError = (e as Error).message;
      emit({ bench: 'train', peer: 'pytorch', error: peerError });
    }
  }
  for (const t of trials) {
    const key = `${t.model}/${t.task}`;
    const o = ours.get(key), p = peer.get(key);
    if (!o || !p) continue;
    emit({
      bench: 'train', kind: 'ratio', model: t.model, task: t.task, batch: t.batch, seq: t.seq, precision: t.bf16 ? 'bf16 autocast' : 'float32',
      ours_seq_s: o.seq_s, peer_seq_s: p.seq_s, ours_over_peer: round((o.seq_s as number) / (p.seq_s as number), 3),
      ours_mfu: o.mfu, peer_mfu: p.mfu, ours_peak_rss_mb: o.peak_rss_mb, peer_peak_rss_mb: p.peak_rss_mb, note: '>1: bertorch faster',
    });
  }
}

await main();
