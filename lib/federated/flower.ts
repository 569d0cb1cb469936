/**
 * A bertorch client in a Flower federation: speaks the Fleet API of flwr 1.42
 * (protobuf over HTTP, POST /v1/fleet/<rpc>, application/protobuf; 1.42 has
 * no gRPC Fleet transport any more: `--fleet-api-type` is deprecated and the
 * SuperNode itself uses this API) in place of a Python SuperNode + ClientApp.
 * It registers and activates a node under a fresh P-256 key (every request
 * signs the current time, as Flower's NodeAuthHttpInterceptor does), sends
 * heartbeats, pulls "train" messages and their objects (content-addressed,
 * flower-wire.ts), trains with any FederatedClient (BertClient) on the
 * ArrayRecord "arrays" and ConfigRecord "config", and replies with the new
 * weights ("arrays") and a MetricRecord "metrics" with "num-examples", which
 * Flower's FedAvg weights by. One message at a time; no libtorch here.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { invalidRange } from '../errors.js';
import { mixSeed } from '../train/rng.js';
import {
  arrayRecordObjects, decodeConfigRecord, decodeMetadata, encodeMetadata, messageObject, metricRecordObject, npyDecode, objectTree, parseObject, pb, pbRead,
  PbWriter, refsObject, treeIds, type FlowerMetadata, type FlowerObject,
} from './flower-wire.js';
import { loadPem, type PemSource } from './security.js';
import type { FederatedClient } from './server.js';
import { FIT_DEFAULTS, type FitConfig } from './strategies.js';
import type { Weights } from './weights.js';

export interface FlowerClientOptions {
  /** Stops the client (it deactivates and unregisters its node first). */
  signal?: AbortSignal;
  /** Where log lines go. @default stderr */
  log?: (line: string) => void;
  /** How often to ask for messages when there are none. @default 500 */
  pollMs?: number;
  /** Heartbeat interval announced to the SuperLink (seconds); one is sent every third of it. @default 30 */
  heartbeatSeconds?: number;
  /** CA bundle for an https:// SuperLink (its --ssl-ca-certfile). */
  ca?: PemSource;
  /** The node's P-256 private key (PEM); a fresh one per run by default (Flower's self-registered nodes). */
  privateKey?: PemSource;
  /** Called after each train message is answered, with the round, the weights received and those sent back. */
  onTrain?: (e: { round: number; global: Weights; local: Weights; numExamples: number; metrics: Record<string, number> }) => void;
}

/**
 * Joins the Flower federation at `superlink` (e.g. http://127.0.0.1:9092) as one node and answers
 * its "train" messages with `client` until `signal` aborts; resolves to the number of train messages answered.
 * The FitConfig comes from the message's ConfigRecord: "server-round", "lr", "local-epochs",
 * "batch-size", "proximal-mu", "max-grad-norm" (FIT_DEFAULTS for what is missing).
 * @example
 * const ac = new AbortController();
 * await runFlowerClient('http://127.0.0.1:9092', new BertClient({ model, examples }), { signal: ac.signal });
 */
export async function runFlowerClient(superlink: string, client: FederatedClient, o: FlowerClientOptions = {}): Promise<number> {
  let url: URL;
  try { url = new URL(superlink); } catch { invalidRange('an http:// or https:// SuperLink URL', 'superlink', superlink); }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') invalidRange('an http:// or https:// SuperLink URL', 'superlink', superlink);
  const log = o.log ?? ((l) => process.stderr.write(`[flower] ${l}\n`));
  const pollMs = o.pollMs ?? 500;
  const hb = o.heartbeatSeconds ?? 30;
  const key: KeyObject = o.privateKey ? createPrivateKey(loadPem(o.privateKey, 'privateKey')) : generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const ca = o.ca ? loadPem(o.ca, 'ca') : undefined;
  const fleet = new FleetApi(url, key, ca);
  const pk = fleet.publicKeyPem;
  await fleet.call('register-node', new PbWriter().bytes(1, pk));
  const nodeId = pb.uint(pbRead(await fleet.call('activate-node', new PbWriter().bytes(1, pk).double(2, hb))), 1);
  const node = () => new PbWriter().uint(1, nodeId);
  log(`node ${nodeId} active at ${url.origin}`);
  const beat = setInterval(() => {
    fleet.call('send-node-heartbeat', new PbWriter().message(1, node()).double(2, hb)).catch((e) => log(`heartbeat failed: ${(e as Error).message}`));
  }, (hb * 1000) / 3);
  let answered = 0;
  try {
    while (!o.signal?.aborted) {
      const res = pbRead(await fleet.call('pull-messages', new PbWriter().message(1, node())));
      const msgs = pb.all(res, 2), trees = pb.all(res, 3);
      if (!msgs.length) { await sleep(pollMs, o.signal); continue; }
      const meta = decodeMetadata(pb.buf(pbRead(msgs[0]), 1));
      const objects = new Map<string, Buffer>();
      for (const id of treeIds(trees[0])) objects.set(id, await pullObject(fleet, node, meta.runId, id));
      await fleet.call('confirm-message-received', new PbWriter().message(1, node()).uint(2, meta.runId).bytes(3, meta.messageId));
      const reply = await answer(meta, objects, client, nodeId, o, log);
      await push(fleet, node, meta, reply);
      if (meta.messageType === 'train') answered++;
    }
  } finally {
    clearInterval(beat);
    await fleet.call('deactivate-node', new PbWriter().uint(1, nodeId)).catch(() => undefined);
    await fleet.call('unregister-node', new PbWriter().uint(1, nodeId)).catch(() => undefined);
  }
  return answered;
}

/** Protobuf-over-HTTP calls to the Fleet API, each signed with the node key. */
class FleetApi {
  readonly publicKeyPem: Buffer;
  constructor(readonly url: URL, readonly key: KeyObject, readonly ca?: Buffer) {
    this.publicKeyPem = Buffer.from(createPublicKeyPem(key));
  }

  call(rpc: string, body: PbWriter): Promise<Buffer> {
    const payload = body.finish();
    const timestamp = new Date().toISOString();
    const headers = {
      'content-type': 'application/protobuf', accept: 'application/protobuf', 'content-length': String(payload.byteLength),
      'flwr-public-key': this.publicKeyPem.toString('base64'), 'flwr-timestamp': timestamp,
      // ECDSA over SHA-256, DER-encoded, as cryptography's private_key.sign(ECDSA(SHA256())).
      'flwr-signature': sign('sha256', Buffer.from(timestamp, 'ascii'), this.key).toString('base64'),
    };
    const https = this.url.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(new URL(`/v1/fleet/${rpc}`, this.url), { method: 'POST', headers, ...(https && this.ca ? { ca: this.ca } : {}), timeout: 60_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          if (res.statusCode === 200) resolve(b);
          else reject(new Error(`Flower SuperLink ${rpc}: ${res.statusCode} ${b.toString('utf8').slice(0, 500)}`));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`Flower SuperLink ${rpc}: no answer within 60 s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

// SubjectPublicKeyInfo PEM, as cryptography's public_bytes(PEM, SubjectPublicKeyInfo).
function createPublicKeyPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
}

async function pullObject(fleet: FleetApi, node: () => PbWriter, runId: bigint, id: string): Promise<Buffer> {
  for (let tries = 0; tries < 600; tries++) {
    const r = pbRead(await fleet.call('pull-object', new PbWriter().message(1, node()).uint(2, runId).bytes(3, id)));
    if (pb.uint(r, 1) === 0n) throw new Error(`Flower SuperLink has no object ${id}`);
    if (pb.uint(r, 2) !== 0n) return pb.buf(r, 3);
    await sleep(100);  // found but not yet available
  }
  throw new Error(`Flower object ${id} did not become available`);
}

/** Reads the message's content, trains, and builds the reply's objects. */
async function answer(meta: FlowerMetadata, raw: Map<string, Buffer>, client: FederatedClient, nodeId: bigint, o: FlowerClientOptions,
  log: (l: string) => void): Promise<{ root: FlowerObject; objects: Map<string, FlowerObject> }> {
  const objects = new Map<string, FlowerObject>();
  const now = Date.now() / 1000;
  const replyMeta: FlowerMetadata = {
    runId: meta.runId, messageId: '', srcNodeId: meta.dstNodeId, dstNodeId: meta.srcNodeId, replyToMessageId: meta.messageId, groupId: meta.groupId,
    createdAt: now, ttl: meta.createdAt + meta.ttl - now, messageType: meta.messageType,
    ...(meta.dstTaskId !== undefined ? { srcTaskId: meta.dstTaskId } : {}), ...(meta.srcTaskId !== undefined ? { dstTaskId: meta.srcTaskId } : {}),
  };
  const fail = (reason: string) => {
    log(`round ${meta.groupId}: ${meta.messageType} failed: ${reason}`);
    return { root: messageObject(replyMeta, null, { code: 0, reason }, objects), objects };
  };
  if (meta.messageType !== 'train') return fail(`bertorch's Flower client answers "train" messages only, not ${JSON.stringify(meta.messageType)}`);
  try {
    const content = readRecordDict(meta.messageId, raw);
    const global = content.arrays.get('arrays');
    if (!global) return fail('the message has no ArrayRecord "arrays"');
    const cfg = content.configs.get('config') ?? {};
    const num = (k: string, d: number) => (typeof cfg[k] === 'number' ? (cfg[k] as number) : d);
    const round = num('server-round', Number(meta.groupId) || 0);
    const config: FitConfig = {
      ...FIT_DEFAULTS, round, lr: num('lr', FIT_DEFAULTS.lr), localEpochs: num('local-epochs', FIT_DEFAULTS.localEpochs),
      batchSize: num('batch-size', FIT_DEFAULTS.batchSize), proximalMu: num('proximal-mu', FIT_DEFAULTS.proximalMu),
      maxGradNorm: num('max-grad-norm', FIT_DEFAULTS.maxGradNorm), seed: mixSeed(round, Number(nodeId % 1_000_000_007n)),
    };
    const u = await client.fit(cloneW(global), config);
    const local: Weights = new Map();
    for (const [k, g] of global) {
      const d = u.delta.get(k);
      if (!d || d.data.length !== g.data.length) return fail(`the update has no ${k} of ${g.data.length} values`);
      local.set(k, { shape: g.shape, data: g.data.map((x, i) => x + d.data[i]) });
    }
    const metrics = { ...(u.metrics ?? {}), 'num-examples': u.numExamples };
    const rec = refsObject('RecordDict', [['arrays', arrayRecordObjects(local, objects)], ['metrics', metricRecordObject(metrics, objects)]], objects);
    o.onTrain?.({ round, global, local, numExamples: u.numExamples, metrics });
    log(`round ${round}: trained on ${u.numExamples} examples`);
    return { root: messageObject(replyMeta, rec, null, objects), objects };
  } catch (e) {
    return fail((e as Error).message);
  }
}

/** The RecordDict of a message: its ArrayRecords as Weights and ConfigRecords as plain values. */
function readRecordDict(messageId: string, raw: Map<string, Buffer>) {
  const get = (id: string) => {
    const c = raw.get(id);
    if (!c) throw new Error(`object ${id} was not pulled`);
    return parseObject(id, c);
  };
  const msg = get(messageId);
  const arrays = new Map<string, Weights>(), configs = new Map<string, Record<string, number | string | boolean>>();
  if (!msg.children.length) return { arrays, configs };
  const refs = JSON.parse(get(msg.children[0]).body.toString('utf8')) as Record<string, string>;
  for (const [name, id] of Object.entries(refs)) {
    const rec = get(id);
    if (rec.type === 'ConfigRecord') configs.set(name, decodeConfigRecord(rec.body));
    if (rec.type !== 'ArrayRecord') continue;
    const w: Weights = new Map();
    for (const [k, aid] of Object.entries(JSON.parse(rec.body.toString('utf8')) as Record<string, string>)) {
      const a = get(aid);
      const meta = JSON.parse(a.body.toString('utf8')) as { stype: string; arraychunk_ids: number[] };
      if (meta.stype !== 'numpy.ndarray') throw new Error(`array ${k} has stype ${meta.stype}, expected numpy.ndarray`);
      const bytes = Buffer.concat(meta.arraychunk_ids.map((i) => get(a.children[i]).body));
      w.set(k, npyDecode(bytes));
    }
    arrays.set(name, w);
  }
  return { arrays, configs };
}

async function push(fleet: FleetApi, node: () => PbWriter, meta: FlowerMetadata, reply: { root: FlowerObject; objects: Map<string, FlowerObject> }): Promise<void> {
  const root = reply.root;
  const proto = pbRead(root.content.subarray(root.content.indexOf(0) + 1));
  // The pushed Message proto: the object's metadata with message_id = the object's id, no content.
  const m = decodeMetadata(pb.buf(proto, 1));
  const msg = new PbWriter().message(1, encodeMetadata({ ...m, messageId: root.id }));
  // As Flower's remove_content_from_message: an empty RecordDict stands for the content (pushed as objects).
  if (proto.has(3)) msg.bytes(3, pb.buf(proto, 3), true); else msg.bytes(2, Buffer.alloc(0), true);
  const res = pbRead(await fleet.call('push-messages', new PbWriter().message(1, node()).message(2, msg).message(3, objectTree(root.id, reply.objects)).packedDoubles(4, [0])));
  const session = pb.str(res, 4);
  for (const id of pb.all(res, 3).map((b) => b.toString('utf8'))) {
    const obj = reply.objects.get(id);
    if (!obj) throw new Error(`the SuperLink asked for object ${id}, which this reply does not have`);
    await fleet.call('push-object', new PbWriter().message(1, node()).uint(2, meta.runId).bytes(3, id).bytes(4, obj.content).bytes(5, session));
  }
}

function cloneW(w: Weights): Weights {
  return new Map([...w].map(([k, t]) => [k, { shape: [...t.shape], data: t.data.slice() }]));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
