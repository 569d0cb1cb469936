// No call from JS crashes the process: a table of bad calls, each answered by
// a JS error of the right class that names what was wrong.
import test from 'ava';
import { native } from '../lib/binding.js';
import { errorClasses } from '../lib/errors.js';
import {
  arange, BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, cat, crossEntropy, embedding, full, ones, rand, randn, stack, tensor,
  TorchError, TorchIndexError, TorchValueError, where, zeros, manualSeed, tidy, noGrad,
} from '../lib/index.js';

type Case = [title: string, fn: () => unknown, expected: { instanceOf: Function; message?: RegExp }];
const x = () => tensor([[1, 2], [3, 4]]);
const ids = () => tensor([0, 1], { dtype: 'int64' });
const TE = { instanceOf: TypeError };
const RE = { instanceOf: RangeError };
const TORCH = { instanceOf: TorchError };

const cases: Case[] = [
  ['tensor() of a string', () => tensor('abc' as never), { ...TE, message: /Expected numbers or booleans for data/ }],
  ['tensor() of ragged rows', () => tensor([[1, 2], [3]]), { ...RE, message: /rectangular/ }],
  ['tensor() with an unknown dtype', () => tensor([1], { dtype: 'float8' as never }), { ...RE, message: /for dtype but received 'float8'/ }],
  ['tensor() with a bad device', () => tensor([1], { device: 'tpu' as never }), { ...RE, message: /for device but received 'tpu'/ }],
  ['tensor() whose shape does not match the data', () => tensor(new Float32Array(6), { shape: [4, 2] }), { ...RE, message: /Expected 8 elements/ }],
  ['tensor() with a negative dimension', () => tensor(new Float32Array(2), { shape: [-2] }), { ...TE, message: /for shape/ }],
  ['tensor() of a Uint16Array without dtype', () => tensor(new Uint16Array(2) as never), { ...TE, message: /for data/ }],
  ['tensor() of a Float64Array as int32', () => tensor(new Float64Array(2), { dtype: 'int32' }), { ...TE, message: /Expected Int32Array for data of dtype int32/ }],
  ['zeros() of a non-array shape', () => zeros(3 as never), { ...TE, message: /for shape but received 3/ }],
  ['zeros() of fractional sizes', () => zeros([1.5]), { ...TE, message: /for shape/ }],
  ['ones() with dtype 42', () => ones([1], { dtype: 42 as never }), { ...RE, message: /for dtype but received 42/ }],
  ['full() without a number', () => full([2], 'x' as never), { ...TE, message: /a number for value/ }],
  ['arange() with step 0', () => arange(0, 5, 0), { ...RE, message: /non-zero number for step/ }],
  ['arange() with NaN', () => arange(0, NaN), { ...TE, message: /finite number for end/ }],
  ['randn() of an integer dtype', () => randn([2], { dtype: 'int64' }), { ...TE, message: /floating dtype/ }],
  ['rand() with a negative seed', () => rand([2], { seed: -1 }), { ...RE, message: /seed/ }],
  ['manualSeed() of a string', () => manualSeed('1' as never), { ...RE, message: /for seed/ }],
  ['add() of a string', () => x().add('1' as never), { ...TE, message: /a Tensor for other but received '1'/ }],
  ['add() of a plain object', () => x().add({} as never), { ...TE, message: /a Tensor for other but received an object/ }],
  ['add() of shapes that do not broadcast', () => x().add(ones([3])), { ...TORCH, message: /size of tensor a \(2\) must match/ }],
  ['mul() of null', () => x().mul(null as never), { ...TE, message: /for other but received null/ }],
  ['matmul() of mismatched inner sizes', () => x().matmul(ones([3, 3])), { ...TORCH, message: /cannot be multiplied/ }],
  ['matmul() of a number', () => x().matmul(2 as never), { ...TE, message: /a Tensor for other/ }],
  ['bmm() of 2-D tensors', () => x().bmm(x()), { ...TORCH, message: /batch1 must be a 3D tensor|3D/ }],
  ['linear() with a wrong weight shape', () => x().linear(ones([3, 3])), { ...TORCH }],
  ['reshape() to a wrong numel', () => x().reshape([3]), { ...TORCH, message: /shape '\[3\]' is invalid for input of size 4/ }],
  ['reshape() with a non-array', () => x().reshape(4 as never), { ...TE, message: /for shape/ }],
  ['view() of a non-contiguous tensor', () => x().transpose(0, 1).view([4]), { ...TORCH, message: /view size is not compatible/ }],
  ['permute() with too few dims', () => x().permute([0]), { ...TORCH, message: /number of dimensions/ }],
  ['transpose() out of range', () => x().transpose(0, 5), { instanceOf: TorchIndexError, message: /Dimension out of range/ }],
  ['transpose() with a fractional dim', () => x().transpose(0.5, 1), { ...TE, message: /an integer for dim0/ }],
  ['slice() on a missing dim', () => x().slice(4, 0, 1), { instanceOf: TorchIndexError, message: /Dimension out of range/ }],
  ['slice() with step 0', () => x().slice(0, 0, 2, 0), { ...TORCH, message: /slice step must be positive/ }],
  ['indexSelect() with float indices', () => x().indexSelect(0, tensor([0.5])), { ...TORCH, message: /index_select|Long|Int/ }],
  ['indexSelect() out of range', () => x().indexSelect(0, tensor([7], { dtype: 'int64' })), { instanceOf: TorchIndexError, message: /out of range/ }],
  ['gather() with a wrong index rank', () => x().gather(1, tensor([0], { dtype: 'int64' })), { ...TORCH, message: /same number of dimensions/ }],
  ['cat() of an empty list', () => cat([]), { ...TE, message: /non-empty array of Tensors for tensors/ }],
  ['cat() of mismatched shapes', () => cat([x(), ones([3, 3])], 0), { ...TORCH, message: /Sizes of tensors must match/ }],
  ['stack() with a non-tensor element', () => stack([x(), 3 as never]), { ...TE, message: /a Tensor for tensors\[1\]/ }],
  ['sum() over a missing dim', () => x().sum(7), { instanceOf: TorchIndexError, message: /Dimension out of range/ }],
  ['mean() of an int64 tensor', () => ids().mean(), { ...TORCH, message: /mean\(\): could not infer output dtype|Long/ }],
  ['softmax() without a dim', () => x().softmax(undefined as never), { ...TE, message: /an integer for dim/ }],
  ['argmax() over a missing dim', () => x().argmax(3), { instanceOf: TorchIndexError }],
  ['layerNorm() with a mismatched shape', () => x().layerNorm([3]), { ...TORCH, message: /normalized_shape/ }],
  ['embedding() with an out-of-range id', () => embedding(tensor([9], { dtype: 'int64' }), ones([3, 2])), { instanceOf: TorchIndexError, message: /index out of range/ }],
  ['embedding() with float ids', () => embedding(tensor([0.0]), ones([3, 2])), { ...TORCH }],
  ['dropout() with p = 2', () => x().dropout(2), { ...RE, message: /probability in \[0, 1\] for p but received 2/ }],
  ['crossEntropy() with a target out of range', () => crossEntropy(x(), tensor([0, 5], { dtype: 'int64' })), { instanceOf: TorchIndexError, message: /out of bounds/ }],
  ['crossEntropy() with float targets of the wrong shape', () => crossEntropy(x(), tensor([1, 2, 3])), { ...TORCH }],
  ['crossEntropy() with an unknown reduction', () => crossEntropy(x(), ids(), { reduction: 'avg' as never }), { ...RE, message: /for reduction but received 'avg'/ }],
  ['maskedFill() with a float mask', () => x().maskedFill(tensor([[1, 0], [0, 1]]), 0), { ...TORCH, message: /mask/ }],
  ['maskedFill() without a number', () => x().maskedFill(tensor([[true, false], [true, false]]), 'x' as never), { ...TE, message: /a number for value/ }],
  ['where() with a non-bool condition', () => where(tensor([1, 0]), 1, 0), { ...TORCH, message: /bool/ }],
  ['item() of a many-element tensor', () => x().item(), { ...RE, message: /one element for item\(\)/ }],
  ['to() of an unknown target', () => x().to('gpu' as never), { ...RE, message: /for device but received 'gpu'/ }],
  ['to() of a number', () => x().to(3 as never), { ...TE, message: /a device or dtype string for target/ }],
  ['to() a CUDA device that does not exist', () => x().to('cuda:63'), { ...TORCH }],
  ['backward() of a non-scalar without a gradient', () => tensor([1, 2]).requiresGrad_().mul(2).backward(), { ...TORCH, message: /grad can be implicitly created only for scalar outputs/ }],
  ['backward() of a tensor that does not require grad', () => tensor([1]).sum().backward(), { ...TORCH, message: /does not require grad/ }],
  ['requiresGrad on an integer tensor', () => { ids().requiresGrad = true; }, { ...TORCH, message: /floating point/ }],
  ['requiresGrad set to a string', () => { x().requiresGrad = 'yes' as never; }, { ...TE, message: /a boolean for requiresGrad/ }],
  ['tidy() of an async function', () => tidy((async () => 1) as never), { ...TE, message: /synchronous/ }],
  ['noGrad() of an async function', () => noGrad((async () => 1) as never), { ...TE, message: /synchronous/ }],
  ['raw binding: add() without arguments', () => (native() as any).add(), { ...TE, message: /a Tensor for self but received undefined/ }],
  ['raw binding: fromArray() of a plain array', () => (native() as any).fromArray([1, 2], [2], 'float32'), { ...TE, message: /a TypedArray for data/ }],
  ['raw binding: zeros() of a string shape', () => (native() as any).zeros('abc'), { ...TE, message: /for shape/ }],
  ['raw binding: setNumThreads(0)', () => native().setNumThreads(0), { ...RE, message: /for threads but received 0/ }],
  ['raw binding: Model with an unknown architecture', () => new (native().Model)({}, 'GPT2', 1), { instanceOf: TorchValueError, message: /unknown BERT architecture 'GPT2'/ }],
  ['raw binding: Model whose hidden size does not split into heads', () => new (native().Model)({ hidden_size: 10, num_attention_heads: 3 }, 'BertModel', 1), { instanceOf: TorchValueError, message: /multiple of num_attention_heads/ }],
  // Each of these once killed the process: SIGFPE (a division by 0 heads), or
  // a loop building 2^40 layers until the OOM killer came.
  ['raw binding: Model with 0 attention heads', () => new (native().Model)({ num_attention_heads: 0 }, 'BertModel', 1), { instanceOf: TorchValueError, message: /num_attention_heads must be a positive integer, got 0/ }],
  ['raw binding: Model with NaN attention heads', () => new (native().Model)({ num_attention_heads: NaN }, 'BertModel', 1), { ...RE, message: /an integer for config.num_attention_heads but received nan/ }],
  ['raw binding: Model with 2^40 layers', () => new (native().Model)({ num_hidden_layers: 2 ** 40, hidden_size: 2, num_attention_heads: 1, intermediate_size: 1 }, 'BertModel', 1), { instanceOf: TorchValueError, message: /GB of float32 parameters but this process may use .*num_hidden_layers=1099511627776/ }],
  ['model created with 1e9 layers', () => BertForSequenceClassification.create({ num_hidden_layers: 1e9 }), { ...RE, message: /fit in the .* of memory this process may use for config but received .*num_hidden_layers=1000000000/ }],
  ['model created with a bad config', () => BertForSequenceClassification.create({ hidden_act: 'swiglu' as never }), { ...RE, message: /for hidden_act but received "swiglu"/ }],
];

test('the bad-call table has at least 50 entries', (t) => {
  t.true(cases.length >= 50, `${cases.length} cases`);
});

for (const [title, fn, expected] of cases) {
  test(`${title} throws ${expected.instanceOf.name}`, (t) => {
    const err = t.throws(fn, expected.message ? { instanceOf: expected.instanceOf as never, message: expected.message } : { instanceOf: expected.instanceOf as never }) as Error;
    if (err) {
      t.false(/\n\s*frame #\d|Exception raised from/.test(err.message), 'no C++ backtrace in the message');
    }
  });
}

const tiny = { vocab_size: 20, hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16, max_position_embeddings: 8 };

test('model calls with bad batches reject with errors naming the field', async (t) => {
  const m = BertForSequenceClassification.create(tiny);
  await t.throwsAsync(() => m.forward({} as never), { instanceOf: TypeError, message: /for batch.inputIds/ });
  await t.throwsAsync(() => m.forward({ inputIds: new BigInt64Array(4) } as never), { instanceOf: TypeError, message: /for batch.shape/ });
  await t.throwsAsync(() => m.forward({ inputIds: new BigInt64Array(4), shape: [3, 2] }), { instanceOf: RangeError, message: /6 ids/ });
  await t.throwsAsync(() => m.forward({ inputIds: new BigInt64Array([1n, 99n]), shape: [1, 2] }), { instanceOf: TorchIndexError, message: /index out of range: inputIds holds 99, outside \[0, 20\) \(vocab_size\)/ });
  await t.throwsAsync(() => m.forward({ inputIds: new BigInt64Array([-3n, 1n]), shape: [1, 2] }), { instanceOf: TorchIndexError, message: /inputIds holds -3/ });
  await t.throwsAsync(() => m.forward({ inputIds: new BigInt64Array(2), tokenTypeIds: new BigInt64Array([0n, 2n]), shape: [1, 2] }), { instanceOf: TorchIndexError, message: /tokenTypeIds holds 2, outside \[0, 2\) \(type_vocab_size\)/ });
  await t.throwsAsync(() => m.forward({ inputIds: new BigInt64Array(20), shape: [1, 20] }), { instanceOf: TorchIndexError, message: /exceeds max_position_embeddings 8/ });
  await t.throwsAsync(() => m.trainStep({ inputIds: new BigInt64Array(2), shape: [1, 2] }), { instanceOf: TorchError, message: /configureOptimizer\(\) must be called/ });
  m.configureOptimizer({ lr: 1e-3 });
  await t.throwsAsync(() => m.trainStep({ inputIds: new BigInt64Array(2), shape: [1, 2] }), { instanceOf: TorchValueError, message: /needs labels/ });
  await t.throwsAsync(() => m.trainStep({ inputIds: new BigInt64Array(2), labels: new BigInt64Array([7n]), shape: [1, 2] }), { instanceOf: TorchIndexError, message: /labels holds 7, outside \[0, 2\) \(num_labels\)/ });
  t.throws(() => m.configureOptimizer({ lr: -1 }), { instanceOf: RangeError, message: /for lr but received -1/ });
  t.throws(() => m.configureOptimizer({ schedule: 'step' as never }), { instanceOf: RangeError, message: /for schedule/ });
  // the model still works after all of that
  const ok = await m.trainStep({ inputIds: new BigInt64Array(2), labels: new BigInt64Array([1n]), shape: [1, 2] });
  t.true(Number.isFinite(ok.loss));
  m.dispose();
});

// Checked on the host before any kernel: on a GPU these were device-side asserts.
test('MLM and token-classification labels out of range name the field; -100 is allowed', async (t) => {
  const mlm = BertForMaskedLM.create(tiny);
  const ids = new BigInt64Array([1n, 2n, 3n]);
  await t.throwsAsync(() => mlm.forward({ inputIds: ids, labels: new BigInt64Array([-100n, 20n, -100n]), shape: [1, 3] }),
    { instanceOf: TorchIndexError, message: /labels holds 20, outside \[0, 20\) \(vocab_size\); -100 marks positions without a label/ });
  await t.throwsAsync(() => mlm.forward({ inputIds: ids, labels: new BigInt64Array([-100n, -5n, 4n]), shape: [1, 3] }), { instanceOf: TorchIndexError, message: /labels holds -5/ });
  const ok = await mlm.forward({ inputIds: ids, labels: new BigInt64Array([-100n, 19n, -100n]), shape: [1, 3] });
  t.true(Number.isFinite(Number(ok.loss!.item())));
  // Float labels are read as int64 by the loss, so they are checked as such.
  await t.throwsAsync(() => mlm.forward({ inputIds: ids, labels: new Float32Array([-100, 25, -100]), shape: [1, 3] }), { instanceOf: TorchIndexError, message: /labels holds 25/ });
  await t.throwsAsync(() => mlm.forward({ inputIds: ids, labels: new Float32Array([-100, NaN, 1]), shape: [1, 3] }), { instanceOf: TorchValueError, message: /labels holds a NaN or infinite class label/ });
  // -100 is ignored by the sequence-classification loss too.
  const cls = BertForSequenceClassification.create(tiny);
  const two = await cls.forward({ inputIds: new BigInt64Array(4), labels: new BigInt64Array([-100n, 1n]), shape: [2, 2] });
  t.true(Number.isFinite(Number(two.loss!.item())));
  cls.dispose();
  const tok = BertForTokenClassification.create({ ...tiny, id2label: { 0: 'O', 1: 'B-X', 2: 'I-X' }, label2id: { O: 0, 'B-X': 1, 'I-X': 2 } });
  await t.throwsAsync(() => tok.forward({ inputIds: ids, labels: new BigInt64Array([0n, 3n, -100n]), shape: [1, 3] }), { instanceOf: TorchIndexError, message: /labels holds 3, outside \[0, 3\) \(num_labels\)/ });
  mlm.dispose();
  tok.dispose();
});

test('an error class from setup() that cannot be constructed still settles a worker\'s Promise', async (t) => {
  // The throw used to escape the thread-safe call: the Promise never settled.
  try {
    native().setup({ TorchError: () => 1 });
    await t.throwsAsync(() => native().matmulAsync(x().handle, ones([3, 3]).handle), { instanceOf: Error, message: /cannot be multiplied/ });
  } finally {
    native().setup(errorClasses);
  }
  t.throws(() => x().matmul(ones([3, 3])), { instanceOf: TorchError });
});

test('a non-finite loss is an error naming the step, or a skipped step when asked', async (t) => {
  const m = BertForSequenceClassification.create({ ...tiny, problem_type: 'regression' }, { seed: 1 });
  const labels = new Float32Array([1e30 * 1e30]);  // inf target: the MSE is inf
  m.configureOptimizer({ lr: 1e-3 });
  const batch = { inputIds: new BigInt64Array(2), labels, shape: [1, 2] as [number, number] };
  const m2 = BertForSequenceClassification.create({ ...tiny, id2label: { 0: 'a' }, label2id: { a: 0 }, problem_type: 'regression' }, { seed: 1 });
  m2.configureOptimizer({ lr: 1e-3 });
  await t.throwsAsync(() => m2.trainStep(batch), { instanceOf: TorchValueError, message: /non-finite loss \(inf\) at optimizer step 1/ });
  const r = await m2.trainStep(batch, { skipNonFinite: true });
  t.true(r.skipped);
  t.is(m2.optimizerStepCount, 0);
  m.dispose();
  m2.dispose();
});

// fp16 overflow and the like: the loss is finite but a gradient is not. The
// update would write NaN into every parameter AdamW touches.
test('a non-finite gradient norm with a finite loss is refused like a non-finite loss, in trainStep and optimizerStep', async (t) => {
  const m = BertForSequenceClassification.create(tiny, { seed: 1 });
  m.configureOptimizer({ lr: 1e-3 });
  const before = new Map([...m.stateDict()].map(([k, p]) => [k, p.toArray() as Float32Array]));
  const batch = { inputIds: new BigInt64Array([2n, 5n]), labels: new BigInt64Array([1n]), shape: [1, 2] as [number, number] };
  const name = 'classifier.weight';
  const infGrad = () => m.setGrads(new Map([[name, full(m.stateDict().get(name)!.shape, Infinity)]]));
  // trainStep's backward adds to the gradient already there: inf + g.
  infGrad();
  await t.throwsAsync(() => m.trainStep(batch), { instanceOf: TorchValueError, message: /non-finite gradient norm \(inf; loss [0-9.]+\) at optimizer step 1/ });
  t.is(m.grads().size, 0, 'the gradients are zeroed');
  infGrad();
  const r = await m.trainStep(batch, { skipNonFinite: true });
  t.true(r.skipped && Number.isFinite(r.loss));
  infGrad();
  await t.throwsAsync(() => m.optimizerStep(), { instanceOf: TorchValueError, message: /non-finite gradient norm \(inf; loss 0\) at optimizer step 1/ });
  infGrad();
  t.true((await m.optimizerStep({ skipNonFinite: true })).skipped);
  t.is(m.optimizerStepCount, 0);
  for (const [k, p] of m.stateDict()) t.deepEqual(p.toArray(), before.get(k), `${k} is unchanged`);
  // And a finite step still trains.
  const ok = await m.trainStep(batch);
  t.false(ok.skipped);
  t.true(Number.isFinite(ok.gradNorm) && ok.gradNorm > 0);
  t.is(m.optimizerStepCount, 1);
  m.dispose();
});
