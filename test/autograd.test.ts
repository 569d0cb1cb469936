// Autograd through the Tensor API, against gradients derived by hand.
import test from 'ava';
import { noGrad, tensor, crossEntropy } from '../lib/index.js';

const close = (a: ArrayLike<number>, b: number[], tol = 1e-6) => b.every((v, i) => Math.abs(Number(a[i]) - v) <= tol);

test('d/dx sum(x^2 + 3x) is 2x + 3', (t) => {
  const x = tensor([1, -2, 0.5]).requiresGrad_();
  x.mul(x).add(x.mul(3)).sum().backward();
  t.deepEqual([...x.grad!.toArray()], [5, -1, 4]);
});

test('gradients of matmul are (dY W^T, X^T dY)', (t) => {
  const X = tensor([[1, 2], [3, 4]]).requiresGrad_();
  const W = tensor([[5, 6], [7, 8]]).requiresGrad_();
  X.matmul(W).sum().backward();
  // dL/dX = ones @ W^T -> rows [11, 15]; dL/dW = X^T @ ones -> [[4, 4], [6, 6]]
  t.deepEqual([...X.grad!.toArray()], [11, 15, 11, 15]);
  t.deepEqual([...W.grad!.toArray()], [4, 4, 6, 6]);
});

test('cross-entropy gradient is softmax minus one-hot, divided by the batch', (t) => {
  const z = tensor([[0, Math.log(3)]]).requiresGrad_();
  crossEntropy(z, tensor([1], { dtype: 'int64' })).backward();
  t.true(close(z.grad!.toArray(), [0.25, -0.25]));
});

test('gradients accumulate across backward calls until zeroGrad', (t) => {
  const x = tensor([2]).requiresGrad_();
  x.mul(x).sum().backward();
  x.mul(x).sum().backward();
  t.deepEqual([...x.grad!.toArray()], [8]);
  x.zeroGrad();
  t.is(x.grad, null);
});

test('noGrad and detach stop gradient tracking', (t) => {
  const x = tensor([1, 2]).requiresGrad_();
  const y = noGrad(() => x.mul(2));
  t.false(y.requiresGrad);
  t.false(x.mul(2).detach().requiresGrad);
  t.true(x.mul(2).requiresGrad);
  t.true(x.requiresGrad);
});

test('backward with an explicit gradient computes a vector-Jacobian product', (t) => {
  const x = tensor([1, 2, 3]).requiresGrad_();
  x.mul(x).backward(tensor([1, 0, 2]));
  t.deepEqual([...x.grad!.toArray()], [2, 0, 12]);
});
