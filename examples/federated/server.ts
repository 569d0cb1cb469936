/**
 * Federated intent classification across processes on this machine: an HTTP
 * server on 127.0.0.1 (ephemeral port) and N client processes
 * (examples/federated/client.ts), each with its own label-skewed shard.
 * Prints the accuracy of the global model on a held-out set after every round
 * and writes the history to <out>/history.json.
 *
 *   npx tsx examples/federated/server.ts --clients 5 --rounds 15
 *
 * By default the server speaks HTTPS with a development CA made under
 * <out>/certs, and only enrolled clients take part: each client process gets
 * a certificate whose CN is its id (mutual TLS; --auth token issues bearer
 * tokens instead, handed to the children in BERTORCH_FEDERATED_TOKEN).
 * --plain runs the old plaintext, open-enrolment server (loopback only).
 *
 * Flags: --auth cert|token (cert), --plain, --strategy fedavg|fedprox|fedadam|fedyogi|median|trimmed (fedavg),
 * --mu (FedProx, 0.01), --fraction (clients sampled per round, 1),
 * --min-clients (updates a round needs, 2), --deadline-ms (round deadline, 60000),
 * --local-epochs (2), --lr (2e-3), --alpha (label skew, 0.3),
 * --dp-clip S --dp-noise z (client-level DP; epsilon at delta 1e-5 is printed),
 * --kill <id>@<round> (kill that client once it pulls that round's model: a crash drill),
 * --out (runs/federated).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BertForSequenceClassification } from '../../lib/index.js';
import {
  evaluateClassifier, FedAdam, FedAvg, FederatedHttpServer, FedMedian, FedProx, FedTrimmedAvg, FedYogi, fromModel, toModel, type FederatedStrategy,
} from '../../lib/federated/index.js';
import { ClientRegistry, makeDevCertificates } from '../../lib/federated/index.js';
import { intentData, publicTokenizer, tinyConfig } from './task.js';

const { values: a } = parseArgs({
  options: {
    clients: { type: 'string', default: '5' }, rounds: { type: 'string', default: '15' }, strategy: { type: 'string', default: 'fedavg' },
    mu: { type: 'string', default: '0.01' }, fraction: { type: 'string', default: '1' }, 'min-clients': { type: 'string', default: '2' },
    'deadline-ms': { type: 'string', default: '60000' }, 'local-epochs': { type: 'string', default: '2' }, lr: { type: 'string', default: '2e-3' },
    alpha: { type: 'string', default: '0.3' }, 'dp-clip': { type: 'string' }, 'dp-noise': { type: 'string' }, kill: { type: 'string' },
    out: { type: 'string', default: 'runs/federated' }, auth: { type: 'string', default: 'cert' }, plain: { type: 'boolean', default: false },
  },
});
const n = Number(a.clients), rounds = Number(a.rounds);
const strategies: Record<string, () => FederatedStrategy> = {
  fedavg: () => new FedAvg(), fedprox: () => new FedProx({ proximalMu: Number(a.mu) }),
  fedadam: () => new FedAdam({ eta: 1e-2 }), fedyogi: () => new FedYogi({ eta: 1e-2 }),
  median: () => new FedMedian(), trimmed: () => new FedTrimmedAvg({ beta: 0.2 }),
};
if (!strategies[a.strategy!]) throw new RangeError(`Expected one of ${Object.keys(strategies).join(', ')} for --strategy but received '${a.strategy}'`);

// Public artifacts: the tokenizer (trained on unlabeled text) and the architecture.
const tok = await publicTokenizer();
const tokDir = path.join(a.out!, 'tokenizer');
await tok.save(tokDir);
const { test } = await intentData(tok);  // the server's own held-out set, for evaluation only
const model = BertForSequenceClassification.create(tinyConfig(tok.vocabSize), { seed: 1 });

// Security: a development CA + server certificate, and the enrolled clients (certificates or tokens).
if (a.auth !== 'cert' && a.auth !== 'token') throw new RangeError(`Expected cert or token for --auth but received '${a.auth}'`);
const ids = Array.from({ length: n }, (_, k) => `client-${k}`);
const certs = a.plain ? null : makeDevCertificates(path.join(a.out!, 'certs'), { clients: a.auth === 'cert' ? ids : [] });
const registry = new ClientRegistry();
const tokens = new Map<string, string>();
for (const id of ids) if (a.auth === 'cert') registry.enrollCertificate(id); else tokens.set(id, registry.issueToken(id));

const server = new FederatedHttpServer(fromModel(model), {
  ...(certs ? { tls: { key: certs.server.key, cert: certs.server.cert, ca: certs.ca.cert }, clients: registry } : {}),
  strategy: strategies[a.strategy!](), fractionFit: Number(a.fraction), minClients: Number(a['min-clients']), seed: 1,
  fitConfig: { lr: Number(a.lr), localEpochs: Number(a['local-epochs']), batchSize: 16 },
  minClientsToStart: n, roundTimeoutMs: Number(a['deadline-ms']), clientTimeoutMs: 15_000,
  dp: a['dp-clip'] ? { clipNorm: Number(a['dp-clip']), noiseMultiplier: Number(a['dp-noise'] ?? 1) } : undefined,
  evaluate: async (w) => { toModel(model, w); return evaluateClassifier(model, test); },
});
const url = await server.start();
console.log(`server on ${url}${certs ? ` (TLS, clients enrolled by ${a.auth === 'cert' ? 'certificate' : 'token'})` : ' (plaintext, open enrolment)'}; starting ${n} client processes`);

const [killId, killRound] = (a.kill ?? '@').split('@');
const client = fileURLToPath(new URL('./client.ts', import.meta.url));
const children: ChildProcess[] = [];
for (let k = 0; k < n; k++) {
  const id = ids[k];
  const tlsArgs = !certs ? [] : ['--ca', certs.ca.cert, ...(a.auth === 'cert' ? ['--cert', certs.clients[id].cert, '--key', certs.clients[id].key] : [])];
  const child = spawn(process.execPath, ['--import', 'tsx', client, '--server', url, '--id', id, '--index', String(k), '--clients', String(n),
    '--tokenizer', tokDir, '--alpha', a.alpha!, ...tlsArgs],
  { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...(tokens.has(id) ? { BERTORCH_FEDERATED_TOKEN: tokens.get(id) } : {}) } });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const e = JSON.parse(line);
    if (id === killId && e.event === 'pulled' && String(e.round) === killRound) {
      console.log(`killing ${id} in the middle of round ${e.round}`);
      child.kill('SIGKILL');
    }
  });
  children.push(child);
}

try {
  const t0 = performance.now();
  const history = await server.run({ rounds });
  for (const h of history) {
    console.log(`round ${String(h.round).padStart(2)}: ${h.status} ${h.accepted.length}/${h.sampled.length} updates` +
      `${h.dropped.length ? `, dropped ${h.dropped.join(' ')}` : ''}${h.rejected.length ? `, rejected ${h.rejected.map((r) => `${r.clientId} (${r.reason})`).join(' ')}` : ''}` +
      `, accuracy ${h.metrics!.accuracy.toFixed(3)}${h.privacy ? `, epsilon ${h.privacy.epsilon.toFixed(2)}` : ''}, ${h.seconds.toFixed(1)} s`);
  }
  console.log(`${rounds} rounds in ${((performance.now() - t0) / 1000).toFixed(1)} s; final accuracy ${history.at(-1)!.metrics!.accuracy.toFixed(3)} on ${test.length} held-out messages`);
  await mkdir(a.out!, { recursive: true });
  await writeFile(path.join(a.out!, 'history.json'), JSON.stringify(history, null, 2) + '\n');
} finally {
  await server.close();
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode ? null : new Promise((r) => c.once('exit', r)))));
}
