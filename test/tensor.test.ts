// Tensor creation, dtypes, conversions and ops, checked against values
// computed by hand (no libtorch in the expectations).
import test from 'ava';
import {
  arange, cat, crossEntropy, embedding, full, ones, rand, randn, stack, tensor, where, zeros, manualSeed, Tensor,
} from '../lib/index.js';

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) =>
  a.length === b.length && b.every((v, i) => Math.abs(Number(a[i]) - v) <= tol);

test('tensors are created from nested arrays and typed arrays with the right shape and dtype', (t) => {
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  t.deepEqual(a.shape, [2, 3]);
  t.is(a.dtype, 'float32');
  t.is(a.numel, 6);
  t.is(a.device, 'cpu');
  t.deepEqual([...a.toArray()], [1, 2, 3, 4, 5, 6]);
  const b = tensor(new Int32Array([1, 2, 3, 4]), { shape: [2, 2] });
  t.is(b.dtype, 'int32');
  const c = tensor(new BigInt64Array([5n, -7n]));
  t.is(c.dtype, 'int64');
  t.deepEqual([...(c.toArray() as BigInt64Array)], [5n, -7n]);
  t.is(tensor([true, false]).dtype, 'bool');
});

test('every dtype round-trips through toArray with the matching TypedArray', (t) => {
  const expected: Record<string, Function> = {
    float32: Float32Array, float64: Float64Array, float16: Float32Array, bfloat16: Float32Array,
    int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array, int16: Int16Array, int8: Int8Array,
  };
  for (const [dtype, ctor] of Object.entries(expected)) {
    const x = tensor([1, 0, 2], { dtype: dtype as never });
    t.is(x.dtype, dtype);
    const arr = x.toArray();
    t.true(arr instanceof ctor, dtype);
    t.deepEqual([...arr].map(Number), dtype === 'bool' ? [1, 0, 1] : [1, 0, 2], dtype);
  }
});

test('to() converts dtype and keeps values; item() returns number, bigint or boolean', (t) => {
  const x = tensor([1.5, 2.5]);
  t.deepEqual([...x.to('int64').toArray()], [1n, 2n]);
  t.is(tensor([3.25]).item(), 3.25);
  t.is(tensor([3], { dtype: 'int64' }).item(), 3n);
  t.is(tensor([true]).item(), true);
  t.deepEqual([...tensor([1, 2]).to('cpu').toArray()], [1, 2]);
});

test('data() resolves to the same values as toArray()', async (t) => {
  const x = randn([5, 7], { seed: 3 });
  t.deepEqual(await x.data(), x.toArray());
});

test('factories fill as documented and seeded generators are reproducible', (t) => {
  t.deepEqual([...zeros([2, 2]).toArray()], [0, 0, 0, 0]);
  t.deepEqual([...ones([3]).toArray()], [1, 1, 1]);
  t.deepEqual([...full([2], 7).toArray()], [7, 7]);
  t.deepEqual([...arange(0, 5).toArray()], [0n, 1n, 2n, 3n, 4n]);
  t.deepEqual([...arange(0, 1, 0.25, { dtype: 'float32' }).toArray()], [0, 0.25, 0.5, 0.75]);
  t.deepEqual(randn([4], { seed: 7 }).toArray(), randn([4], { seed: 7 }).toArray());
  t.notDeepEqual(randn([4], { seed: 7 }).toArray(), randn([4], { seed: 8 }).toArray());
  const u = rand([1000], { seed: 1 }).toArray() as Float32Array;
  t.true(u.every((v) => v >= 0 && v < 1));
  manualSeed(5);
  const a = randn([3]).toArray();
  manualSeed(5);
  t.deepEqual(randn([3]).toArray(), a);
});

test('arithmetic broadcasts and follows PyTorch type promotion', (t) => {
  const a = tensor([[1, 2], [3, 4]]);
  const row = tensor([10, 20]);
  t.deepEqual([...a.add(row).toArray()], [11, 22, 13, 24]);
  t.deepEqual([...a.sub(1).toArray()], [0, 1, 2, 3]);
  t.deepEqual([...a.mul(a).toArray()], [1, 4, 9, 16]);
  t.deepEqual([...a.div(2).toArray()], [0.5, 1, 1.5, 2]);
  t.deepEqual([...a.pow(2).toArray()], [1, 4, 9, 16]);
  const i = tensor([1, 2], { dtype: 'int64' });
  t.is(i.mul(2).dtype, 'int64');
  t.is(i.mul(2.5).dtype, 'float32');
  t.deepEqual([...a.maximum(2.5).toArray()], [2.5, 2.5, 3, 4]);
  t.deepEqual([...a.gt(2).toArray()], [0, 0, 1, 1]);
  t.deepEqual([...a.eq(tensor([1, 0])).toArray()], [1, 0, 0, 0]);
  t.true(close(tensor([0, 1]).exp().toArray(), [1, Math.E]));
  t.true(close(tensor([-1, 4]).abs().sqrt().toArray(), [1, 2]));
  t.true(close(tensor([0, 1]).tanh().toArray(), [0, Math.tanh(1)]));
  t.deepEqual([...tensor([-1, 2]).relu().toArray()], [0, 2]);
  // exact GELU: x * Phi(x); Phi(1) = 0.841344746
  t.true(close(tensor([1]).gelu().toArray(), [0.8413447]));
  t.true(close(tensor([1]).gelu('tanh').toArray(), [0.8411920]));
});

test('matmul, bmm and linear compute the products', (t) => {
  const a = tensor([[1, 2], [3, 4]]);
  t.deepEqual([...a.matmul(a).toArray()], [7, 10, 15, 22]);
  const b = tensor([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]);
  t.deepEqual([...b.bmm(b).toArray()], [1, 0, 0, 1, 4, 0, 0, 4]);
  const x = tensor([[1, 1]]);
  const w = tensor([[1, 2], [3, 4], [5, 6]]);
  t.deepEqual([...x.linear(w, tensor([1, 1, 1])).toArray()], [4, 8, 12]);
  t.deepEqual(x.linear(w).shape, [1, 3]);
});

test('shape ops reshape, view, permute, transpose, slice, indexSelect, gather, cat and stack', (t) => {
  const a = arange(0, 6, 1, { dtype: 'float32' });
  const m = a.reshape([2, 3]);
  t.deepEqual(m.shape, [2, 3]);
  t.deepEqual(a.view([3, 2]).shape, [3, 2]);
  t.deepEqual([...m.transpose(0, 1).contiguous().toArray()], [0, 3, 1, 4, 2, 5]);
  t.deepEqual([...m.permute([1, 0]).contiguous().toArray()], [0, 3, 1, 4, 2, 5]);
  t.deepEqual([...m.slice(1, 1, 3).contiguous().toArray()], [1, 2, 4, 5]);
  t.deepEqual([...a.slice(0, 0, 6, 2).toArray()], [0, 2, 4]);
  t.deepEqual([...m.indexSelect(1, tensor([2, 0], { dtype: 'int64' })).toArray()], [2, 0, 5, 3]);
  t.deepEqual([...m.gather(1, tensor([[0], [2]], { dtype: 'int64' })).toArray()], [0, 5]);
  t.deepEqual(cat([m, m], 0).shape, [4, 3]);
  t.deepEqual(stack([m, m], 1).shape, [2, 2, 3]);
});

test('reductions sum, mean, max, argmax, softmax and logSoftmax', (t) => {
  const m = tensor([[1, 5, 3], [4, 2, 6]]);
  t.is(m.sum().item(), 21);
  t.deepEqual([...m.sum(0).toArray()], [5, 7, 9]);
  t.deepEqual(m.sum(1, true).shape, [2, 1]);
  t.deepEqual([...m.mean(1).toArray()], [3, 4]);
  t.is(m.max().item(), 6);
  t.deepEqual([...m.max(1).toArray()], [5, 6]);
  t.deepEqual([...m.argmax(1).toArray()], [1n, 2n]);
  const s = tensor([0, Math.log(3)]).softmax(0).toArray();
  t.true(close(s, [0.25, 0.75]));
  t.true(close(tensor([0, Math.log(3)]).logSoftmax(0).toArray(), [Math.log(0.25), Math.log(0.75)]));
});

test('layerNorm, embedding, dropout, maskedFill, where and crossEntropy match their formulas', (t) => {
  const x = tensor([[1, 2, 3]]);
  // mean 2, var 2/3 -> (x - 2) / sqrt(2/3 + eps)
  const s = Math.sqrt(2 / 3 + 1e-5);
  t.true(close(x.layerNorm([3]).toArray(), [-1 / s, 0, 1 / s], 1e-5));
  t.true(close(x.layerNorm([3], tensor([2, 2, 2]), tensor([1, 1, 1])).toArray(), [1 - 2 / s, 1, 1 + 2 / s], 1e-5));
  const wgt = tensor([[0, 0], [1, 1], [2, 2]]);
  t.deepEqual([...embedding(tensor([2, 1], { dtype: 'int64' }), wgt).toArray()], [2, 2, 1, 1]);
  t.deepEqual([...x.dropout(0.5, false).toArray()], [1, 2, 3]);
  const d = ones([10000]).dropout(0.5).toArray();
  const kept = [...d].filter((v) => v !== 0);
  t.true(kept.every((v) => v === 2));
  t.true(Math.abs(kept.length - 5000) < 300);
  t.deepEqual([...x.maskedFill(tensor([[true, false, true]]), -1).toArray()], [-1, 2, -1]);
  t.deepEqual([...where(tensor([true, false]), tensor([1, 2]), 0).toArray()], [1, 0]);
  // CE of logits [0, ln 3] against class 1: -log(0.75); ignored rows do not count
  const logits = tensor([[0, Math.log(3)], [5, 5]]);
  const target = tensor([1, -100], { dtype: 'int64' });
  t.true(close(crossEntropy(logits, target).toArray(), [-Math.log(0.75)], 1e-6));
  t.true(close(crossEntropy(logits, tensor([1, 0], { dtype: 'int64' }), { reduction: 'none' }).toArray(), [-Math.log(0.75), Math.log(2)], 1e-6));
});

test('toString describes the tensor without dumping its data', (t) => {
  t.is(String(zeros([2, 3])), 'Tensor(shape=[2, 3], dtype=float32, device=cpu)');
  t.true(zeros([1]) instanceof Tensor);
});
