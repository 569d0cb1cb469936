/**
 * Tensor microbenchmarks: float32 matmul GFLOP/s and the per-call overhead of
 * tiny ops (JS -> native -> JS), against the same workloads in PyTorch.
 *
 *   npx tsx scripts/bench/tensor.ts [--threads N] [--only matmul|overhead] [--rounds 3] [--quiet-wait 5] [--no-peer]
 *
 * Each family of trials runs in a fresh Node process, then peer_tensor.py runs
 * the same trials (same thread count) in a fresh Python process; the two
 * alternate for `--rounds` rounds so both see the same background load.
 * stdout: JSON lines (`bench: 'tensor'`): ours, `peer: 'pytorch'`, and at the
 * end one `kind: 'ratio'` line per trial from each side's best round.
 */
import { emit, envFields, intFlag, listFlag, loadProbe, log, median, measureMatmul, now, parseFlags, round, runPeer, runTsChild, useThreads, waitQuiet, type Json } from './common.js';
import { tensor } from '../../lib/index.js';

type Family = 'matmul' | 'overhead';
const FAMILIES: readonly Family[] = ['matmul', 'overhead'];

/** float32 (n x n) @ (n x n): warm-up, then the median GFLOP/s of `reps` samples. */
interface MatmulTrial { family: 'matmul'; name: string; n: number; warmup: number; reps: number }
/**
 * One tiny op on 1-element tensors, `calls` times per sample, median of
 * `samples` samples, in µs per call. Ours includes dispose() of the result
 * (what JS code must do); PyTorch frees by refcount.
 */
interface OverheadTrial { family: 'overhead'; name: string; op: 'add' | 'matmul' | 'matmulAsync'; calls: number; samples: number; peer: boolean }
type Trial = MatmulTrial | OverheadTrial;

export const TRIALS: Trial[] = [
  { family: 'matmul', name: 'matmul_512', n: 512, warmup: 3, reps: 9 },
  { family: 'matmul', name: 'matmul_1024', n: 1024, warmup: 2, reps: 7 },
  { family: 'matmul', name: 'matmul_2048', n: 2048, warmup: 2, reps: 7 },
  { family: 'overhead', name: 'add_1', op: 'add', calls: 20000, samples: 9, peer: true },
  { family: 'overhead', name: 'matmul_1x1', op: 'matmul', calls: 20000, samples: 9, peer: true },
  // The worker-thread round trip (no PyTorch equivalent): a Promise per call.
  { family: 'overhead', name: 'matmulAsync_1x1', op: 'matmulAsync', calls: 2000, samples: 9, peer: false },
];

async function runOverhead(t: OverheadTrial): Promise<Json> {
  const [a, b] = t.op === 'add' ? [tensor([1]), tensor([2])] : [tensor([[1]]), tensor([[2]])];
  const sample = async (calls: number): Promise<number> => {
    const t0 = now();
    if (t.op === 'add') for (let i = 0; i < calls; i++) a.add(b).dispose();
    else if (t.op === 'matmul') for (let i = 0; i < calls; i++) a.matmul(b).dispose();
    else for (let i = 0; i < calls; i++) (await a.matmulAsync(b, 1)).dispose();
    return ((now() - t0) / calls) * 1e6;
  };
  await sample(t.calls); // warm-up (JIT, allocator)
  const us: number[] = [];
  for (let s = 0; s < t.samples; s++) us.push(await sample(t.calls));
  a.dispose();
  b.dispose();
  return { us_per_call: round(median(us), 3), us_min: round(Math.min(...us), 3), calls: t.calls, samples: t.samples };
}

async function child(family: Family, flags: Map<string, string>): Promise<void> {
  const threads = useThreads(flags);
  const env = envFields(threads);
  const round_ = intFlag(flags, 'round', 1);
  for (const t of TRIALS.filter((x) => x.family === family)) {
    const probe = loadProbe();
    const res = t.family === 'matmul'
      ? (({ gflops, gflopsBest, inner, reps }) => ({ n: t.n, gflops: round(gflops, 2), gflops_best: round(gflopsBest, 2), inner, reps }))(measureMatmul(t.n, t.warmup, t.reps))
      : await runOverhead(t);
    emit({ bench: 'tensor', impl: 'bertorch', name: t.name, family, round: round_, ...res, other_load: probe(), ...env });
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  const childFamily = flags.get('child');
  if (childFamily) return child(childFamily as Family, flags);

  const threads = useThreads(flags);
  const families = listFlag(flags, 'only', [...FAMILIES], FAMILIES);
  const rounds = intFlag(flags, 'rounds', 3);
  const peerOn = !flags.has('no-peer');
  const quiet = Number(flags.get('quiet-wait') ?? 5);
  // Best (fastest) per-round median of each side: other load only ever slows a run down.
  const ours = new Map<string, Json>();
  const peer = new Map<string, Json>();
  const keep = (m: Map<string, Json>, r: Json) => {
    const prev = m.get(r.name as string);
    const better = r.family === 'matmul' ? (p: Json) => (r.gflops as number) > (p.gflops as number) : (p: Json) => (r.us_per_call as number) < (p.us_per_call as number);
    if (!prev || better(prev)) m.set(r.name as string, r);
  };
  let peerError: string | undefined;
  for (let r = 1; r <= rounds; r++) {
    for (const f of families) {
      await waitQuiet(quiet);
      log(`tensor/${f} round ${r}/${rounds}: bertorch (fresh process, ${threads} threads)`);
      await runTsChild('tensor.ts', ['--child', f, '--threads', String(threads), '--round', String(r)], (x) => { emit(x); keep(ours, x); });
      if (!peerOn || peerError) continue;
      const peerTrials = TRIALS.filter((t) => t.family === f && (t.family === 'matmul' || t.peer));
      await waitQuiet(quiet);
      log(`tensor/${f} round ${r}/${rounds}: pytorch peer (${threads} threads)`);
      try {
        await runPeer('peer_tensor.py', ['--threads', String(threads), '--round', String(r), '--trials', JSON.stringify(peerTrials)], (x) => { emit(x); keep(peer, x); });
      } catch (e) {
        peerError = (e as Error).message;
        emit({ bench: 'tensor', peer: 'pytorch', error: peerError });
      }
    }
  }
  for (const t of TRIALS) {
    const o = ours.get(t.name), p = peer.get(t.name);
    if (!o || !p) continue;
    const metric = t.family === 'matmul' ? 'gflops' : 'us_per_call';
    emit({
      bench: 'tensor', kind: 'ratio', name: t.name, metric, ours: o[metric], peer: p[metric],
      ours_over_peer: round((o[metric] as number) / (p[metric] as number), 3),
      of: `best of ${rounds} rounds' medians`, note: t.family === 'matmul' ? '>1: bertorch faster' : '>1: bertorch slower (more µs per call)',
    });
  }
}

await main();
