// Federated building blocks without a model: strategies (values worked out by
// hand), update validation, the wire format, DP clipping and noise, the RDP
// accountant (against Opacus, TF Privacy and numerical integration), label-skew
// partitions and the server's round bookkeeping.
import test from 'ava';
import { computeRdp, DEFAULT_ORDERS, logErfc, RdpAccountant, rdpToDp } from '../lib/federated/accountant.js';
import { decodeUpdate, decodeWeights, encodeUpdate, encodeWeights } from '../lib/federated/codec.js';
import { clipUpdate, gaussianSource, noisyClippedMean, uniformSource } from '../lib/federated/dp.js';
import { partitionByLabel } from '../lib/federated/partition.js';
import { FederatedServer } from '../lib/federated/server.js';
import { runSimulation } from '../lib/federated/simulation.js';
import {
  FedAdagrad, FedAdam, FedAvg, FedMedian, FedProx, FedTrimmedAvg, FedYogi, type ClientResult,
} from '../lib/federated/strategies.js';
import { UpdateRejectedError, validateUpdate } from '../lib/federated/validate.js';
import { l2Norm, type Weights } from '../lib/federated/weights.js';

const W = (o: Record<string, number[]>, shapes: Record<string, number[]> = {}): Weights =>
  new Map(Object.entries(o).map(([k, v]) => [k, { shape: shapes[k] ?? [v.length], data: Float32Array.from(v) }]));
const res = (id: string, delta: Weights, n = 1): ClientResult => ({ clientId: id, delta, numExamples: n });
const arr = (w: Weights, k = 'a') => Array.from(w.get(k)!.data);
const close = (t: any, got: number[], want: number[], tol = 1e-6) => {
  t.is(got.length, want.length);
  got.forEach((g, i) => t.true(Math.abs(g - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `[${i}] ${g} vs ${want[i]}`));
};

// ---- strategies ----------------------------------------------------------

test('FedAvg adds the example-weighted mean of the deltas', (t) => {
  const g = W({ a: [10, 10] });
  const next = new FedAvg().aggregate(g, [res('x', W({ a: [1, 2] }), 1), res('y', W({ a: [3, 4] }), 3)], 1);
  close(t, arr(next), [10 + (1 + 9) / 4, 10 + (2 + 12) / 4]);
  t.deepEqual(arr(g), [10, 10], 'the input is not modified');
});

test('FedProx aggregates like FedAvg and sends proximalMu to clients', (t) => {
  const s = new FedProx({ proximalMu: 0.1 });
  t.deepEqual(s.configureFit(), { proximalMu: 0.1 });
  const rs = [res('x', W({ a: [1] }), 2), res('y', W({ a: [4] }), 1)];
  t.deepEqual(arr(s.aggregate(W({ a: [0] }), rs, 1)), arr(new FedAvg().aggregate(W({ a: [0] }), rs, 1)));
  t.throws(() => new FedProx({ proximalMu: -1 }), { instanceOf: RangeError, message: /proximalMu/ });
});

test('FedMedian takes the coordinate-wise median, unweighted, and shrugs off one wild client', (t) => {
  const odd = [[5, 1], [-1, 2], [3, 3], [100, 1e6], [2, -4]].map((v, i) => res(`c${i}`, W({ a: v }), i + 1));
  close(t, arr(new FedMedian().combine(odd)), [3, 2]);  // sorted: [-1, 2, 3, 5, 100], [-4, 1, 2, 3, 1e6]
  const even = [[4], [1], [3], [2]].map((v, i) => res(`c${i}`, W({ a: v })));
  close(t, arr(new FedMedian().combine(even)), [2.5]);  // numpy.median: mean of the two middle values
});

test('FedTrimmedAvg drops floor(beta * n) values at each end', (t) => {
  const six = [10, -10, 1, 2, 3, 4].map((v, i) => res(`c${i}`, W({ a: [v] })));
  close(t, arr(new FedTrimmedAvg({ beta: 0.2 }).combine(six)), [2.5]);  // cut 1: mean(1, 2, 3, 4)
  const four = [4, 1, 3, 2].map((v, i) => res(`c${i}`, W({ a: [v] })));
  close(t, arr(new FedTrimmedAvg({ beta: 0.2 }).combine(four)), [2.5]);  // cut floor(0.8) = 0
  close(t, arr(new FedTrimmedAvg({ beta: 0.3 }).combine([1, 2, 3, 100].map((v, i) => res(`c${i}`, W({ a: [v] }))))), [2.5]);
  t.throws(() => new FedTrimmedAvg({ beta: 0.5 }), { instanceOf: RangeError, message: /beta/ });
});

// One coordinate, x0 = 1, eta 0.1, beta1 0.9, beta2 0.99, tau 1e-3, v0 = 0; pseudo-gradients 0.5 then -0.2.
const opt = { eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3 };
const twoRounds = (s: FedAdam | FedYogi | FedAdagrad) => {
  const x1 = s.aggregate(W({ a: [1] }), [res('c', W({ a: [0.5] }))], 1);
  const x2 = s.aggregate(x1, [res('c', W({ a: [-0.2] }))], 2);
  return [arr(x1)[0], arr(x2)[0]];
};

test('FedAdam: two server steps match the hand computation', (t) => {
  // m1 = 0.1 * 0.5 = 0.05; v1 = 0.01 * 0.25 = 0.0025; x1 = 1 + 0.1 * 0.05 / (0.05 + 0.001)
  const x1 = 1 + 0.005 / 0.051;
  // m2 = 0.9 * 0.05 - 0.02 = 0.025; v2 = 0.99 * 0.0025 + 0.01 * 0.04 = 0.002875
  const x2 = x1 + (0.1 * 0.025) / (Math.sqrt(0.002875) + 0.001);
  const [a, b] = twoRounds(new FedAdam(opt));
  close(t, [a, b], [x1, x2]);
  t.is(x1.toFixed(6), '1.098039');
});

test('FedYogi: the second moment moves by sign(v - d²), unlike Adam', (t) => {
  // v1 = 0 - 0.01 * 0.25 * sign(-0.25) = 0.0025 (= Adam's); v2 = 0.0025 - 0.01 * 0.04 * sign(0.0025 - 0.04) = 0.0029
  const x1 = 1 + 0.005 / 0.051;
  const x2 = x1 + (0.1 * 0.025) / (Math.sqrt(0.0029) + 0.001);
  const s = new FedYogi(opt);
  close(t, twoRounds(s), [x1, x2]);
  close(t, arr(s.v!), [0.0029]);
});

test('FedAdagrad accumulates squared pseudo-gradients', (t) => {
  // v1 = 0.25; x1 = 1 + 0.1 * 0.05 / (0.5 + 0.001); v2 = 0.29
  const x1 = 1 + 0.005 / 0.501;
  const x2 = x1 + 0.0025 / (Math.sqrt(0.29) + 0.001);
  close(t, twoRounds(new FedAdagrad(opt)), [x1, x2]);
});

test('a strategy refuses an empty round and bad options', (t) => {
  t.throws(() => new FedAvg().aggregate(W({ a: [0] }), [], 1), { instanceOf: RangeError });
  t.throws(() => new FedAdam({ beta1: 1 }), { instanceOf: RangeError, message: /beta1/ });
  t.throws(() => new FedYogi({ tau: 0 }), { instanceOf: RangeError, message: /tau/ });
});

// ---- validation and the wire format ----------------------------------------

const ref = W({ w: [0, 0, 0, 0], b: [0, 0] }, { w: [2, 2] });

test('a well-formed update passes with its norm', (t) => {
  const v = validateUpdate(W({ w: [3, 0, 0, 0], b: [4, 0] }, { w: [2, 2] }), ref, 10);
  t.deepEqual(v, { ok: true, norm: 5 });
});

test('every malformed update is refused with its reason', (t) => {
  const good = () => W({ w: [1, 1, 1, 1], b: [1, 1] }, { w: [2, 2] });
  const reason = (d: Weights, n = 5, o = {}) => { const v = validateUpdate(d, ref, n, o); return v.ok ? 'ok' : v.reason; };
  const missing = good(); missing.delete('b');
  const extra = good(); extra.set('c', { shape: [1], data: new Float32Array(1) });
  const shape = good(); shape.get('w')!.shape = [4];
  const dtype = good(); (dtype.get('b') as any).data = new Float64Array(2);
  const nan = good(); nan.get('w')!.data[2] = NaN;
  const inf = good(); inf.get('b')!.data[0] = -Infinity;
  const huge = good(); huge.get('w')!.data[0] = 3e38; huge.get('w')!.data[1] = 3e38;  // finite, but the norm overflows
  t.is(reason(good()), 'ok');
  t.is(reason(missing), 'keys');
  t.is(reason(extra), 'keys');
  t.is(reason(shape), 'shape');
  t.is(reason(dtype), 'dtype');
  t.is(reason(nan), 'nonfinite');
  t.is(reason(inf), 'nonfinite');
  t.is(reason(huge), 'norm');
  t.is(reason(good(), 5, { maxUpdateNorm: 2 }), 'norm');  // norm sqrt(6)
  for (const n of [0, -3, 1.5, NaN, 2e9]) t.is(reason(good(), n), 'numExamples');
});

test('updates round-trip through safetensors bytes with their metadata', (t) => {
  const d = W({ w: [1.5, -2, 3e-8, 4], b: [5, 6] }, { w: [2, 2] });
  const bytes = encodeUpdate({ delta: d, numExamples: 42, metrics: { loss: 0.25 } }, { round: 7, clientId: 'alice' });
  const back = decodeUpdate(bytes);
  t.is(back.round, 7);
  t.is(back.clientId, 'alice');
  t.is(back.update.numExamples, 42);
  t.deepEqual(back.update.metrics, { loss: 0.25 });
  t.deepEqual(back.update.delta.get('w')!.shape, [2, 2]);
  t.deepEqual(Array.from(back.update.delta.get('w')!.data), Array.from(d.get('w')!.data));
  // The header is safetensors: u64 length, then JSON with __metadata__.
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  t.true(JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString()).__metadata__.clientId === 'alice');
});

test('malformed bytes are refused as UpdateRejectedError, never a crash', (t) => {
  const ok = encodeWeights(W({ a: [1, 2] }));
  const header = (json: string, data = new Uint8Array(8)) => {
    const h = Buffer.from(json);
    const out = Buffer.alloc(8 + h.length + data.length);
    out.writeBigUInt64LE(BigInt(h.length), 0); h.copy(out, 8); out.set(data, 8 + h.length);
    return new Uint8Array(out);
  };
  const cases: [Uint8Array, string][] = [
    [new Uint8Array(3), 'decode'],
    [ok.subarray(0, ok.length - 1), 'decode'],                                        // truncated
    [header('{"a":'), 'decode'],                                                        // not JSON
    [header('{"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}'), 'dtype'],
    [header('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}'), 'decode'],      // shape vs bytes
    [header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), 'decode'],  // overlap
    [header('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'), 'decode'],      // 4 trailing bytes
  ];
  for (const [bytes, reason] of cases) {
    const e = t.throws(() => decodeWeights(bytes), { instanceOf: UpdateRejectedError });
    t.is(e?.reason as string, reason, e?.message);
  }
  t.throws(() => decodeWeights(ok, { maxBytes: 10 }), { instanceOf: UpdateRejectedError, message: /exceeds/ });
});

// ---- DP -------------------------------------------------------------------

test('clipping scales an update to the clip norm and leaves small ones alone', (t) => {
  const { clipped, norm, scale } = clipUpdate(W({ a: [3, 4] }), 1);
  t.is(norm, 5);
  t.is(scale, 0.2);
  close(t, arr(clipped), [0.6, 0.8]);
  const small = W({ a: [0.3, 0.4] });
  t.is(clipUpdate(small, 1).clipped, small);
});

test('the noisy mean is sum(clip) / qN plus N(0, (z S / qN)^2) noise', (t) => {
  const like = W({ a: new Array(200_000).fill(0) });
  const mean0 = noisyClippedMean(W({ a: [0, 0] }), [W({ a: [3, 4] }), W({ a: [0, 0.5] })], { clipNorm: 1, noiseMultiplier: 0, denominator: 4 }, () => 0);
  close(t, arr(mean0), [0.6 / 4, (0.8 + 0.5) / 4]);
  const noisy = noisyClippedMean(like, [], { clipNorm: 2, noiseMultiplier: 1.5, denominator: 3 }, gaussianSource(uniformSource(7)));
  const xs = noisy.get('a')!.data;
  let m = 0, s = 0;
  for (const x of xs) m += x;
  m /= xs.length;
  for (const x of xs) s += (x - m) ** 2;
  const std = Math.sqrt(s / xs.length);
  t.true(Math.abs(m) < 0.01, `mean ${m}`);
  t.true(Math.abs(std - 1) < 0.01, `std ${std}, expected 1.5 * 2 / 3 = 1`);
  // Seeded noise repeats; node:crypto noise does not.
  const a = gaussianSource(uniformSource(7)), b = gaussianSource(uniformSource(7));
  t.is(a(), b());
  const c = gaussianSource(uniformSource()), d = gaussianSource(uniformSource());
  t.not(c(), d());
});

test('a DP server samples by Poisson, clips and noises, and reports epsilon from the accountant', async (t) => {
  const ids = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, '0')}`);
  const client = { fit: async () => ({ delta: W({ a: [30, 40] }), numExamples: 1 }) };  // norm 50, clipped to 1
  const server = new FederatedServer(W({ a: [0, 0] }), { dp: { clipNorm: 1, noiseMultiplier: 0, seed: 1 }, fractionFit: 0.5, minClients: 1, seed: 3, log: () => {} });
  const hist = await runSimulation(server, Object.fromEntries(ids.map((id) => [id, client])), { rounds: 3 });
  const sizes = hist.map((h) => h.sampled.length);
  t.false(sizes.every((s) => s === 10), `Poisson sampling varies the count: ${sizes}`);
  // With z = 0 the mean is exact: each round adds k * (0.6, 0.8) / (0.5 * 20).
  const k = hist.reduce((a, h) => a + h.accepted.length, 0);
  close(t, arr(server.global), [(k * 0.6) / 10, (k * 0.8) / 10], 1e-5);
  t.is(hist[2].privacy!.epsilon, Infinity, 'no noise, no privacy');

  const priv = new FederatedServer(W({ a: [0, 0] }), { dp: { clipNorm: 1, noiseMultiplier: 1.1, delta: 1e-5, seed: 1 }, fractionFit: 0.5, minClients: 1, log: () => {} });
  const h2 = await runSimulation(priv, Object.fromEntries(ids.map((id) => [id, client])), { rounds: 3 });
  const acc = new RdpAccountant();
  acc.step(0.5, 1.1, 3);
  t.is(h2[2].privacy!.epsilon, acc.getEpsilon(1e-5).epsilon);
  t.true(h2[0].privacy!.epsilon < h2[2].privacy!.epsilon);
  t.throws(() => new FederatedServer(W({ a: [0] }), { strategy: new FedMedian(), dp: { clipNorm: 1, noiseMultiplier: 1 } }), { instanceOf: TypeError, message: /mean-based/ });
});

// ---- the RDP accountant -----------------------------------------------------

test('RDP without subsampling is alpha / (2 sigma^2)', (t) => {
  t.deepEqual(computeRdp(1, 2, 3, [2, 10, 1.5]), [3 * 2 / 8, 3 * 10 / 8, 3 * 1.5 / 8]);
  t.deepEqual(computeRdp(0, 1, 10, [2]), [0]);
  t.deepEqual(computeRdp(0.1, 0, 1, [2]), [Infinity]);
});

test('the accountant reproduces Opacus: sigma 1.5, q 0.04, 90 epochs, delta 1e-5 -> epsilon 7.32911117143', (t) => {
  // opacus/tests/accountants_test.py, test_rdp_accountant (Opacus's default orders).
  const acc = new RdpAccountant(DEFAULT_ORDERS);
  acc.step(0.04, 1.5, Math.floor(90 / 0.04));
  const { epsilon } = acc.getEpsilon(1e-5);
  t.log(`epsilon ${epsilon}`);
  t.true(Math.abs(epsilon - 7.32911117143) < 1e-6);
});

test("the accountant reproduces Opacus's analysis docstring: (0.336, order 23)", (t) => {
  const orders = Array.from({ length: 31 }, (_, i) => i + 2);
  const a = computeRdp(1e-5, 1.0, 10, orders), b = computeRdp(1e-4, 3.0, 4, orders);
  const { epsilon, order } = rdpToDp(orders, a.map((x, i) => x + b[i]), 1e-5);
  t.is(epsilon.toFixed(3), '0.336');
  t.is(order, 23);
});

test("RDP values match TF Privacy's test_compute_rdp_sequence", (t) => {
  const got = computeRdp(0.01, 2.5, 50, [1.5, 2.5, 5, 50, 100, Infinity]);
  const want = [6.5007e-04, 1.0854e-03, 2.1808e-03, 2.3846e-02, 1.6742e+02, Infinity];
  got.forEach((g, i) => t.true(want[i] === Infinity ? g === Infinity : Math.abs(g - want[i]) / want[i] < 1e-4, `${g} vs ${want[i]}`));
});

test('fractional-order RDP matches numerical integration of A_alpha', (t) => {
  // mpmath.quad of N(0, s^2)(z) * ((1 - q) + q exp((2z - 1) / (2 s^2)))^a over R, at 30 digits.
  const cases: [number, number, number, number][] = [
    [0.1, 1.0, 2.5, 0.023503727261003127], [0.01, 0.8, 7.3, 0.38811354606390297],
    [0.2, 2.0, 1.5, 0.008281433173237221], [0.05, 1.2, 16, 2.360716814281842],
  ];
  for (const [q, s, a, want] of cases) {
    const got = computeRdp(q, s, 1, [a])[0];
    t.true(Math.abs(got - want) / want < 1e-9, `q=${q} sigma=${s} alpha=${a}: ${got} vs ${want}`);
  }
  // log erfc against scipy (log(2) + log_ndtr(-x sqrt 2)).
  close(t, [logErfc(-3), logErfc(0.3), logErfc(2), logErfc(30)], [0.6931361352504468, -0.39843005144008525, -5.36494126461664, -903.9741171106442], 1e-13);
});

// ---- partitions and server bookkeeping --------------------------------------------

test('label-skew partitions cover every example once, are seeded, and skew with small alpha', (t) => {
  const labels = Array.from({ length: 600 }, (_, i) => i % 12);
  const p = partitionByLabel(labels, 5, { alpha: 0.1, seed: 4 });
  t.deepEqual(p.flat().sort((a, b) => a - b), labels.map((_, i) => i));
  t.deepEqual(p, partitionByLabel(labels, 5, { alpha: 0.1, seed: 4 }));
  t.notDeepEqual(p, partitionByLabel(labels, 5, { alpha: 0.1, seed: 5 }));
  const distinct = (q: number[]) => new Set(q.map((i) => labels[i])).size;
  t.true(p.some((q) => distinct(q) < 12), 'alpha 0.1 leaves some labels out of some clients');
  const iid = partitionByLabel(labels, 5, { alpha: Infinity });
  t.true(iid.every((q) => q.length === 120 && distinct(q) === 12));
});

test('the server samples with its seed, refuses stray updates, and skips a round with too few', async (t) => {
  const lines: string[] = [];
  const mk = () => new FederatedServer(W({ a: [0] }), { fractionFit: 0.4, minClients: 2, seed: 9, log: (l) => lines.push(l) });
  const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
  const s = mk();
  const plan = s.beginRound(ids);
  t.is(plan.clients.length, 4);
  t.deepEqual(plan.clients, mk().beginRound(ids).clients);
  const [x, y] = plan.clients;
  const other = ids.find((i) => !plan.clients.includes(i))!;
  const u = { delta: W({ a: [1] }), numExamples: 1 };
  t.like(s.submit(2, x, u), { accepted: false, reason: 'round' });
  t.like(s.submit(1, other, u), { accepted: false, reason: 'client' });
  t.like(s.submit(1, x, u), { accepted: true });
  t.like(s.submit(1, x, u), { accepted: false, reason: 'duplicate' });
  t.like(s.submit(1, y, { delta: W({ a: [NaN] }), numExamples: 1 }), { accepted: false, reason: 'nonfinite' });
  const rec = await s.endRound();
  t.is(rec.status, 'skipped');
  t.deepEqual(arr(s.global), [0]);
  t.deepEqual(rec.rejected.map((r) => r.reason), ['nonfinite']);
  t.is(rec.dropped.length, 2);
  t.true(lines.some((l) => /rejected the update of .*nonfinite/.test(l)));
  t.true(lines.some((l) => /skipped .*model unchanged/.test(l)));
  t.like(s.submit(1, x, u), { accepted: false, reason: 'round' });
  t.is(l2Norm(s.global), 0);
});
