/**
 * A federated client process: joins the server, and every round it is
 * sampled pulls the global model, trains on its own shard, pushes the update.
 * Its labeled data never leaves the process. Prints one JSON event per line on
 * stdout (joined, pulled, trained, done) for whoever supervises it; logs go to stderr.
 *
 *   tsx examples/federated/client.ts --server https://127.0.0.1:PORT --id clinic-0 \
 *     --index 0 --clients 5 --tokenizer runs/federated/tokenizer \
 *     --ca certs/ca.crt --cert certs/client-clinic-0.crt --key certs/client-clinic-0.key
 *
 * Flags: --alpha (label skew, default 0.3), --split-seed (3), --data-seed (1),
 * --per-intent (40), --hidden (64), --local-epochs / --batch-size (override the
 * server's), --delay-ms (simulate a slow device: wait before training),
 * --ca (CA bundle that signed the server's certificate), --cert / --key (this
 * client's certificate for mutual TLS). A bearer token, if the operator issued
 * one, comes in env BERTORCH_FEDERATED_TOKEN (not argv: other users see argv).
 */
import { parseArgs } from 'node:util';
import { BertForSequenceClassification } from '../../lib/index.js';
import { BertClient, runHttpClient } from '../../lib/federated/index.js';
import { Tokenizer } from '../../lib/tokenizer.js';
import { clientShard, intentData, labelHistogram, tinyConfig } from './task.js';

const { values: a } = parseArgs({
  options: {
    server: { type: 'string' }, id: { type: 'string' }, index: { type: 'string' }, clients: { type: 'string' },
    tokenizer: { type: 'string' }, alpha: { type: 'string', default: '0.3' }, 'split-seed': { type: 'string', default: '3' },
    'data-seed': { type: 'string', default: '1' }, 'per-intent': { type: 'string', default: '40' }, hidden: { type: 'string', default: '64' },
    'local-epochs': { type: 'string' }, 'batch-size': { type: 'string' }, 'delay-ms': { type: 'string', default: '0' },
    ca: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' },
  },
});
for (const k of ['server', 'id', 'index', 'clients', 'tokenizer'] as const) {
  if (!a[k]) { console.error(`Expected --${k}`); process.exit(2); }
}
const num = (k: keyof typeof a) => (a[k] === undefined ? undefined : Number(a[k]));
const emit = (event: string, extra: object = {}) => process.stdout.write(JSON.stringify({ event, id: a.id, ...extra }) + '\n');

const tok = await Tokenizer.fromPretrained(a.tokenizer!);
const { train } = await intentData(tok, { seed: num('data-seed'), perIntent: num('per-intent') });
const examples = clientShard(train, num('index')!, num('clients')!, { alpha: num('alpha'), seed: num('split-seed') });
const model = BertForSequenceClassification.create(tinyConfig(tok.vocabSize, num('hidden')), { seed: 1 });
const local = new BertClient({ model, examples, localEpochs: num('local-epochs'), batchSize: num('batch-size') });
const delay = num('delay-ms')!;
process.stderr.write(`[${a.id}] ${examples.length} private examples, label:count ${labelHistogram(examples)}\n`);
emit('joined', { examples: examples.length });

const rounds = await runHttpClient(a.server!, a.id!, {
  async fit(global, config) {
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const u = await local.fit(global, config);
    emit('trained', { round: config.round, loss: u.metrics?.loss });
    return u;
  },
}, {
  onPulled: (round) => emit('pulled', { round }),
  tls: a.ca || a.cert ? { ca: a.ca, cert: a.cert, key: a.key } : undefined,
  token: process.env.BERTORCH_FEDERATED_TOKEN || undefined,
});
emit('done', { rounds });
model.dispose();
