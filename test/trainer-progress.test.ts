// Progress output: a redrawn bar on a TTY, plain log lines elsewhere.
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { BertForSequenceClassification } from '../lib/index.js';
import { ArraySource, Trainer } from '../lib/train/index.js';
import { duration, fmt, Progress } from '../lib/train/progress.js';

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean, readonly columns = 200) { super(); }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void { this.text += chunk.toString(); cb(); }
}

const examples = Array.from({ length: 24 }, (_, i) => ({ inputIds: [2, 5 + (i % 3), 9 + (i % 7), 3], label: i % 3 }));

function model() {
  return BertForSequenceClassification.create({ vocab_size: 30, hidden_size: 16, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16, id2label: { 0: 'a', 1: 'b', 2: 'c' }, label2id: { a: 0, b: 1, c: 2 } }, { seed: 1 });
}

test('numbers and durations are short', (t) => {
  t.is(fmt(0.000123), '1.23e-4');
  t.is(fmt(2.34567), '2.346');
  t.is(duration(75), '1:15');
  t.is(duration(3700), '1:01:40');
  t.is(duration(NaN), '?');
});

test('on a TTY the trainer draws a bar with step/total, loss, lr, it/s and ETA', async (t) => {
  const tty = new Capture(true);
  const m = model();
  await new Trainer(m, { epochs: 2, lr: 1e-3, loggingSteps: 3, logStream: tty }).fit(new ArraySource(examples, { batchSize: 4 }));
  t.regex(tty.text, /\r\x1b\[2Ktrain \[[= >]+\] 12\/12 loss [\d.]+ lr [\d.e-]+ [\d.]+ it\/s ETA \d+:\d\d/);
  t.regex(tty.text, /\[train\] step 3\/12 epoch 0\.5 {2}loss [\d.]+ {2}learning_rate/);
  t.true(tty.text.endsWith('\n'));
  m.dispose();
});

test('elsewhere it writes one plain line per logged record, without control characters', async (t) => {
  const pipe = new Capture(false);
  const dir = await mkdtemp(path.join(tmpdir(), 'bertorch-progress-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const m = model();
  await new Trainer(m, { epochs: 2, lr: 1e-3, loggingSteps: 3, logStream: pipe, runName: 'plain', runsDir: dir })
    .fit(new ArraySource(examples, { batchSize: 4 }), { evalData: new ArraySource(examples.slice(0, 8), { batchSize: 8 }) });
  const lines = pipe.text.trim().split('\n');
  t.false(pipe.text.includes('\r') || pipe.text.includes('\x1b'));
  t.is(lines.filter((l) => /^\[plain\] step \d+\/12 .* loss .* it\/s$/.test(l)).length, 4);
  t.is(lines.filter((l) => /eval_accuracy/.test(l)).length, 2);
  m.dispose();
});

test("progress: 'none' writes nothing", async (t) => {
  const s = new Capture(true);
  const p = new Progress('none', s, 10);
  p.start(0);
  p.update(1, 1, 1);
  p.log({ step: 1, epoch: 0, loss: 1 });
  p.end();
  t.is(s.text, '');
});
