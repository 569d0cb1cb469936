// Fine-tuning all-MiniLM-L6-v2 with in-batch negatives on the generated FAQ
// (lib/faq/synthetic.ts over lib/synth): training pairs use only the intents'
// seen wordings, evaluation only held-out paraphrases. recall@1 of the
// held-out messages against the 12 KB questions must rise; the Trainer's
// evaluation, best checkpoint and report.html (recall@k charts) come along;
// the saved folder loads in sentence-transformers and gives our vectors.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SentenceEncoder, fitSentenceEncoder, type RetrievalEval } from '../lib/embeddings/index.js';
import { syntheticFaq } from '../lib/faq/index.js';
import { ExactIndex } from '../lib/search/index.js';
import { miniLMGate } from './helpers/minilm.js';
import { pythonProblem, runPython } from './helpers/python.js';

const { dir: minilm, test: mtest } = miniLMGate();

async function recallAt1(enc: SentenceEncoder, e: RetrievalEval): Promise<number> {
  const ix = new ExactIndex(enc.dim, 'cosine');
  await ix.add(e.corpus.map((_, i) => i), await enc.encode(e.corpus as string[]));
  const r = await ix.search(await enc.encode(e.queries as string[]), 1);
  ix.dispose();
  return e.relevant.filter((rel, q) => r.ids[q] === rel).length / e.queries.length;
}

mtest('recall@1 on held-out paraphrases rises after in-batch-negatives fine-tuning; the folder loads in sentence-transformers', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'bt-st-train-'));
  const enc = await SentenceEncoder.fromPretrained(minilm!);
  try {
    const { entries, train, heldOut } = syntheticFaq({ seed: 1, trainPerIntent: 8, heldOutPerIntent: 10 });
    const first = entries.filter((e, i) => entries.findIndex((x) => x.intent === e.intent) === i);
    const evalData: RetrievalEval = {
      queries: heldOut.map((h) => h.query), corpus: first.map((e) => e.question),
      relevant: heldOut.map((h) => first.findIndex((e) => e.intent === h.intent)),
    };
    // No training text is a held-out text.
    const trainTexts = new Set(train.map((p) => p.anchor));
    t.false(evalData.queries.some((q) => trainTexts.has(q)));
    const before = await recallAt1(enc, evalData);
    const result = await fitSentenceEncoder(enc, train, {
      epochs: 2, lr: 4e-5, batchSize: 12, warmupRatio: 0.1, evalData, progress: 'none',
      outputDir: path.join(out, 'ckpt'), saveStrategy: 'epoch', saveTotalLimit: 1, loadBestModelAtEnd: true, earlyStoppingPatience: 2,
      runName: 'faq-encoder', runsDir: path.join(out, 'runs'),
    });
    const after = await recallAt1(enc, evalData);
    const evals = result.state.log_history.filter((h) => h['eval_recall@1'] !== undefined);
    t.log(`recall@1 on ${evalData.queries.length} held-out paraphrases: ${before.toFixed(3)} before, ${after.toFixed(3)} after ` +
      `(per epoch ${evals.map((h) => (h['eval_recall@1'] as number).toFixed(3)).join(', ')}; best ${result.bestMetric?.toFixed(3)} at ${result.bestCheckpoint && path.basename(result.bestCheckpoint)})`);
    t.true(after >= before + 0.05, `recall@1 ${before} -> ${after}`);
    t.is(evals.length, 2);
    t.true(Math.abs(after - (result.bestMetric ?? NaN)) < 1e-9, 'the best checkpoint was loaded at the end');
    t.true(existsSync(result.bestCheckpoint!));
    const report = readFileSync(path.join(out, 'runs', 'faq-encoder', 'report.html'), 'utf8');
    t.regex(report, /eval_recall@1/);
    t.regex(report, /eval_recall@5/);

    const saved = path.join(out, 'model');
    await enc.save(saved);
    const back = await SentenceEncoder.fromPretrained(saved);
    const probe = evalData.queries.slice(0, 8) as string[];
    const [ours, reread] = [await enc.encode(probe), await back.encode(probe)];
    t.true(ours.every((v, i) => Math.abs(v - reread[i]) < 1e-6));
    t.like(back, { pooling: 'mean', normalize: true, maxSeqLength: 256 });
    await back.close();

    const problem = pythonProblem(['sentence_transformers']);
    if (problem) {
      if (process.env.CI) t.fail(problem);
      else t.log(`SKIPPED the sentence-transformers load: ${problem}`);
      return;
    }
    const st = runPython<{ vectors: number[]; modules: string[] }>(String.raw`
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device='cpu')
v = m.encode(json.loads(sys.argv[2]), batch_size=8)
print(json.dumps({'vectors': v.flatten().tolist(), 'modules': [type(x).__name__ for x in m]}))`, [saved, JSON.stringify(probe)]);
    t.deepEqual(st.modules, ['Transformer', 'Pooling', 'Normalize']);
    let maxDiff = 0;
    st.vectors.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - ours[i])); });
    t.log(`sentence-transformers on the saved folder: max |diff| ${maxDiff.toExponential(2)}`);
    t.true(maxDiff < 1e-5);
  } finally {
    await enc.close();
    await rm(out, { recursive: true, force: true });
  }
});

test('ranking batches and options are checked before training', async (t) => {
  const fake = {} as SentenceEncoder;
  await t.throwsAsync(fitSentenceEncoder(fake, []), { instanceOf: TypeError, message: /non-empty array of \{ anchor, positive \} pairs/ });
  await t.throwsAsync(fitSentenceEncoder(fake, [{ anchor: 'a', positive: '' }]), { instanceOf: TypeError, message: /pairs\[0\]\.positive/ });
  await t.throwsAsync(fitSentenceEncoder(fake, [{ anchor: 'a', positive: 'b' }], { batchSize: 0 }), { instanceOf: RangeError, message: /batchSize/ });
});
