/**
 * GPU training throughput, bertorch vs HF transformers + PyTorch in the same
 * run (scripts/bench/peer_gpu_train.py): BERT-base (or --model), sequence 128,
 * fine-tuning (seqcls) and MLM, bf16 autocast, SDPA, fused AdamW on both sides.
 * JSON lines: ms/step, sequences/s, tokens/s, MFU against the bf16 matmul rate
 * measured in this run. FLOPs per token = 6 * P_nonembedding + 12 * L * T * H
 * (+ 6 * V * H for the MLM decoder), the usual 6N rule plus attention.
 * On CUDA each task also runs with CUDA graphs (model.cudaGraphs()).
 * --profile: after timing, 5 more steps of each side under its profiler
 * (Kineto; torch.profiler for the peer), one `gpu-profile` line per side with
 * the GPU's busy time per step and the kernels that take it.
 * Usage: tsx scripts/bench/gpu-train.ts [--batch 64] [--seq 128] [--steps 30] [--model base|thin|...] [--tasks seqcls,mlm]
 *   [--no-graphs] [--profile]
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { BertForMaskedLM, BertForSequenceClassification, PRESETS, info, profile, randn } from '../../lib/index.js';
import { native } from '../../lib/binding.js';
import { BENCH_DIR, emit, intFlag, log, parseFlags, pythonPath } from './common.js';

const flags = parseFlags(process.argv.slice(2));
const B = intFlag(flags, 'batch', 64);
const T = intFlag(flags, 'seq', 128);
const steps = intFlag(flags, 'steps', 30);
const warmup = 5;
// thin: BERT-base's 12 layers x 12 heads at hidden 48. With --batch 2 --seq 16
// the GPU has almost nothing to do, so ms/step is the host's time per step:
// the floor of an eager step, and what CUDA graphs remove.
const MODELS = { ...PRESETS, thin: { num_hidden_layers: 12, hidden_size: 48, num_attention_heads: 12, intermediate_size: 192 } };
const name = (flags.get('model') ?? 'base') as keyof typeof MODELS;
if (!(name in MODELS)) throw new RangeError(`--model: expected one of ${Object.keys(MODELS).join(', ')}, got '${name}'`);
const preset = MODELS[name];
const V = 30522;
const device = info().cudaAvailable ? 'cuda' : 'cpu';
const dtype = flags.get('dtype') ?? (device === 'cuda' ? 'bfloat16' : 'float32');

async function matmulRate(): Promise<number> {
  const n = device === 'cuda' ? 8192 : 1024;
  const a0 = randn([n, n], { seed: 1 });
  const a = dtype === 'float32' ? a0.to(device) : a0.to(device).to(dtype as never);
  await a.matmulAsync(a, 3);
  native().cudaSynchronize();
  const reps = device === 'cuda' ? 50 : 5;
  const t0 = performance.now();
  await a.matmulAsync(a, reps);
  native().cudaSynchronize();
  const s = (performance.now() - t0) / 1000;
  return (2 * n ** 3 * reps) / s;
}

/**
 * Training FLOPs per token. decodedShare: the share of positions the MLM
 * decoder (6 V H per position) runs on: bertorch's eager step decodes only the
 * masked positions (~15%), its CUDA-graph step and HF every position. Each
 * side's MFU counts the FLOPs it computes.
 */
function flopsPerToken(task: string, decodedShare = 1): number {
  const H = preset.hidden_size, L = preset.num_hidden_layers, I = preset.intermediate_size;
  const perLayer = 4 * H * H + 4 * H + 2 * H * I + I + H + 4 * H;
  let p = L * perLayer + H * H + H;  // + pooler / transform
  let f = 6 * p + 12 * L * T * H;
  if (task === 'mlm') f += 6 * V * H * decodedShare;
  return f;
}

function maskedShare(labels: BigInt64Array): number {
  return labels.reduce((n, v) => n + (v !== -100n ? 1 : 0), 0) / labels.length;
}

function batch(task: string, seed: number) {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const ids = new BigInt64Array(B * T).map(() => BigInt(Math.floor(rnd() * (V - 5)) + 5));
  const mask = new BigInt64Array(B * T).fill(1n);
  const labels = task === 'mlm'
    ? new BigInt64Array(B * T).map((_, i) => (rnd() < 0.15 ? ids[i] : -100n))
    : new BigInt64Array(B).map(() => BigInt(Math.floor(rnd() * 2)));
  return { inputIds: ids, attentionMask: mask, labels, shape: [B, T] as [number, number] };
}

async function ours(task: string, rate: number, graphs = false) {
  const cfg = { ...preset, vocab_size: V };
  const m = task === 'mlm' ? BertForMaskedLM.create(cfg, { seed: 1 }) : BertForSequenceClassification.create(cfg, { seed: 1 });
  m.train().to(device as never);
  if (dtype !== 'float32') m.autocast(dtype as never);
  if (graphs) m.cudaGraphs(true);
  m.configureOptimizer({ lr: 1e-4 });
  const batches = [batch(task, 1), batch(task, 2)];
  for (let i = 0; i < warmup; i++) await m.trainStep(batches[i % 2]);
  native().cudaSynchronize();
  const t0 = performance.now();
  let loss = 0;
  for (let i = 0; i < steps; i++) loss = (await m.trainStep(batches[i % 2])).loss;
  native().cudaSynchronize();
  const ms = (performance.now() - t0) / steps;
  if (flags.has('profile') && !graphs) {
    const n = 5;
    const { summary } = await profile(async () => { for (let i = 0; i < n; i++) await m.trainStep(batches[i % 2]); }, { cuda: device === 'cuda', top: 15 });
    emit({ bench: 'gpu-profile', side: 'bertorch', task, steps: n, wallMsPerStep: +(summary.wallMs / n).toFixed(2), deviceBusyMsPerStep: +(summary.deviceBusyMs / n).toFixed(2),
      kernels: summary.deviceKernels.map((k) => ({ name: k.name.slice(0, 90), count: k.count / n, msPerStep: +(k.ms / n).toFixed(3) })),
      cpuOps: summary.cpuOps.slice(0, 10).map((k) => ({ name: k.name, msPerStep: +(k.ms / n).toFixed(3) })) });
  }
  m.dispose();
  const tokS = (B * T) / (ms / 1000);
  const share = task === 'mlm' && !graphs ? maskedShare(batches[0].labels) : 1;
  emit({ bench: 'gpu-train', side: graphs ? 'bertorch-cudagraphs' : 'bertorch', model: name, task, device, dtype, batch: B, seq: T, msPerStep: +ms.toFixed(2), seqPerS: +(B / (ms / 1000)).toFixed(1), tokPerS: Math.round(tokS),
    mfu: +((tokS * flopsPerToken(task, share)) / rate).toFixed(3), decodedShare: task === 'mlm' ? +share.toFixed(3) : undefined, loss });
  return B / (ms / 1000);
}

const rate = await matmulRate();
emit({ bench: 'matmul', device, dtype, tflops: +(rate / 1e12).toFixed(1), libtorch: info().libtorchVersion, gpu: info().cudaDevices[0] ?? 'none' });
const py = pythonPath();
for (const task of (flags.get('tasks') ?? 'seqcls,mlm').split(',')) {
  if (task !== 'seqcls' && task !== 'mlm') throw new RangeError(`--tasks: expected seqcls or mlm, got '${task}'`);
  const our = await ours(task, rate);
  log(`peer ${task}`);
  const peerArgs = ['--task', task, '--batch', String(B), '--seq', String(T), '--steps', String(steps), '--model', name, '--dtype', dtype, '--rate', String(rate)];
  if (flags.has('profile')) peerArgs.push('--profile');
  const r = spawnSync(py, [path.join(BENCH_DIR, 'peer_gpu_train.py'), ...peerArgs], { encoding: 'utf8', timeout: 600_000 });
  const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  for (const l of lines) if (l.bench === 'gpu-profile') emit(l);
  const peer = lines.find((l) => l.bench === 'gpu-train');
  if (!peer) { emit({ bench: 'gpu-train', side: 'hf', task, error: (r.stderr || '').slice(-500) }); continue; }
  emit({ ...peer, mfu: +((peer.tokPerS * flopsPerToken(task)) / rate).toFixed(3) });
  emit({ bench: 'gpu-train', ratio: 'bertorch/hf seqPerS', task, value: +(our / peer.seqPerS).toFixed(3) });
  if (device !== 'cuda' || flags.has('no-graphs')) continue;
  try {
    const graphed = await ours(task, rate, true);
    emit({ bench: 'gpu-train', ratio: 'bertorch-cudagraphs/hf seqPerS', task, value: +(graphed / peer.seqPerS).toFixed(3) });
  } catch (e) {
    emit({ bench: 'gpu-train', side: 'bertorch-cudagraphs', task, error: (e as Error).message.slice(0, 500) });
  }
}
