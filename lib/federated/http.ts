/**
 * Federated training across processes over HTTP (node:http, loopback by
 * default). The server drives a FederatedServer; clients are separate
 * processes that join, long-poll for a task, pull the global model, train on
 * their own data and push an update (safetensors bytes). A round closes when
 * every sampled client has answered or at the deadline, with the updates
 * accepted by then; a client that disappears (killed, disconnected) is simply
 * missing from that round and is not sampled again until it is heard from.
 *
 * Protocol (JSON unless noted):
 *   POST /v1/join          {clientId}                -> {clientId}
 *   GET  /v1/task?client=&after=R  (long-poll)       -> {status: 'fit', round, config} | {status: 'wait'} | {status: 'done'}
 *   GET  /v1/model?round=R                           -> safetensors bytes of the global weights
 *   POST /v1/update?client=&round=R  (safetensors)   -> {accepted: true, norm} | 4xx {accepted: false, reason, message}
 *   POST /v1/failure?client=&round=R {message}       -> {ok: true}
 *   GET  /v1/status                                  -> {round, clients, history}
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidRange } from '../errors.js';
import { decodeWeights, encodeUpdate, encodeWeights } from './codec.js';
import { FederatedServer, type FederatedClient, type RoundRecord, type ServerOptions } from './server.js';
import type { FitConfig } from './strategies.js';
import type { Weights } from './weights.js';

export interface HttpServerOptions extends ServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** A round closes this long after it starts, with the updates accepted by then. @default 60000 */
  roundTimeoutMs?: number;
  /**
   * Clients that must have joined before the first round starts (later rounds
   * need only max(minClients, minFitClients), so lost clients do not stall training).
   * @default max(minClients, minFitClients)
   */
  minClientsToStart?: number;
  /** How long run() waits for enough clients before a round, then fails. @default 120000 */
  waitForClientsMs?: number;
  /** A client not heard from for this long is no longer sampled. @default 30000 */
  clientTimeoutMs?: number;
  /** Longest a /task request is held open. @default 10000 */
  pollMs?: number;
  /** Largest update body accepted. @default 8 x the global model's size + 1 MiB */
  maxBodyBytes?: number;
}

interface ClientEntry {
  lastSeen: number;
  /** A held /task request, if the client is waiting. */
  poll?: { res: ServerResponse; after: number; timer: NodeJS.Timeout };
  /** Missed a deadline; not sampled until heard from again. */
  suspect: boolean;
}

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The federated server on node:http.
 * @example
 * const server = new FederatedHttpServer(fromModel(model), { minClients: 2, roundTimeoutMs: 30_000 });
 * const url = await server.start();          // http://127.0.0.1:<port>
 * // start clients: tsx examples/federated/client.ts --server <url> ...
 * const history = await server.run({ rounds: 10 });
 * await server.close();
 */
export class FederatedHttpServer {
  readonly core: FederatedServer;
  #o: HttpServerOptions;
  #http: Server | null = null;
  #clients = new Map<string, ClientEntry>();
  #modelBytes: { round: number; bytes: Uint8Array } | null = null;
  #done = false;
  #wake: (() => void) | null = null;
  #log: (line: string) => void;

  constructor(initial: Weights, o: HttpServerOptions = {}) {
    this.core = new FederatedServer(initial, o);
    this.#o = o;
    this.#log = o.log ?? ((l) => process.stderr.write(`[federated] ${l}\n`));
    if (o.minClientsToStart !== undefined && !(Number.isInteger(o.minClientsToStart) && o.minClientsToStart >= 1))
      invalidRange('a positive integer', 'minClientsToStart', o.minClientsToStart);
    for (const k of ['roundTimeoutMs', 'waitForClientsMs', 'clientTimeoutMs', 'pollMs'] as const) {
      const v = o[k];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) invalidRange('a positive number of milliseconds', k, v);
    }
  }

  get url(): string {
    const a = this.#http?.address() as AddressInfo | null;
    if (!a) throw new Error('the server is not started');
    return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /** Listens (127.0.0.1, an ephemeral port by default) and resolves to the base URL. */
  async start(): Promise<string> {
    const http = createServer((req, res) => { this.#handle(req, res).catch((e) => this.#send(res, 500, { error: (e as Error).message })); });
    http.requestTimeout = 0;  // long uploads on slow links; /task polls end on their own
    this.#http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.#o.port ?? 0, this.#o.host ?? '127.0.0.1', () => { http.off('error', reject); resolve(); });
    });
    return this.url;
  }

  /** Clients that can be sampled now: heard from recently and not suspected gone. */
  available(): string[] {
    const now = Date.now(), limit = this.#o.clientTimeoutMs ?? 30_000;
    return [...this.#clients].filter(([, c]) => c.poll || (!c.suspect && now - c.lastSeen < limit)).map(([id]) => id);
  }

  /**
   * Runs `rounds` rounds and resolves to the history. Each round waits for
   * max(minClients, minFitClients) available clients (the first round for
   * minClientsToStart), up to waitForClientsMs.
   * @throws {Error} when too few clients are available in time.
   */
  async run({ rounds }: { rounds: number }): Promise<RoundRecord[]> {
    if (!Number.isInteger(rounds) || rounds < 1) invalidRange('a positive integer', 'rounds', rounds);
    const need = Math.max(this.core.options.minClients, this.core.options.minFitClients);
    try {
      for (let r = 0; r < rounds; r++) {
        const want = r === 0 ? Math.max(need, this.#o.minClientsToStart ?? 0) : need;
        await this.#waitFor(() => this.available().length >= want, this.#o.waitForClientsMs ?? 120_000,
          () => `only ${this.available().length} of the ${want} clients needed are available`);
        const plan = this.core.beginRound(this.available());
        this.#modelBytes = { round: plan.round, bytes: encodeWeights(this.core.global, { round: String(plan.round) }) };
        for (const id of plan.clients) this.#offerTask(id);
        await this.#waitFor(() => this.core.allAnswered, this.#o.roundTimeoutMs ?? 60_000, () => '').catch(() => undefined);
        const rec = await this.core.endRound();
        for (const id of rec.dropped) { const c = this.#clients.get(id); if (c && !c.poll) c.suspect = true; }
      }
    } finally {
      this.#finish();
    }
    return this.core.history;
  }

  #finish(): void {
    this.#done = true;
    for (const [, c] of this.#clients) if (c.poll) this.#answerPoll(c, { status: 'done' });
  }

  /** Stops listening and drops open connections. */
  async close(): Promise<void> {
    this.#finish();
    const http = this.#http;
    this.#http = null;
    if (!http) return;
    await new Promise<void>((resolve) => { http.close(() => resolve()); http.closeAllConnections(); });
  }

  // Resolves when cond() holds (re-checked whenever a request arrives), rejects after ms.
  async #waitFor(cond: () => boolean, ms: number, why: () => string): Promise<void> {
    const until = Date.now() + ms;
    while (!cond()) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out after ${ms} ms: ${why()}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { this.#wake = null; resolve(); }, Math.min(left, 250));
        this.#wake = () => { clearTimeout(t); this.#wake = null; resolve(); };
      });
    }
  }

  #touch(id: string): ClientEntry {
    let c = this.#clients.get(id);
    if (!c) { c = { lastSeen: Date.now(), suspect: false }; this.#clients.set(id, c); }
    c.lastSeen = Date.now();
    c.suspect = false;
    return c;
  }

  #taskFor(id: string, after: number): { status: 'fit'; round: number; config: FitConfig } | null {
    const plan = this.core.openRound;
    if (!plan || plan.round <= after || !plan.configs.has(id)) return null;
    return { status: 'fit', round: plan.round, config: plan.configs.get(id)! };
  }

  #offerTask(id: string): void {
    const c = this.#clients.get(id);
    if (!c?.poll) return;
    const task = this.#taskFor(id, c.poll.after);
    if (task) this.#answerPoll(c, task);
  }

  #answerPoll(c: ClientEntry, body: object): void {
    const p = c.poll;
    if (!p) return;
    c.poll = undefined;
    clearTimeout(p.timer);
    this.#send(p.res, 200, body);
  }

  #send(res: ServerResponse, status: number, body: object | Uint8Array): void {
    if (res.writableEnded || res.destroyed) return;
    if (body instanceof Uint8Array) {
      res.writeHead(status, { 'content-type': 'application/octet-stream', 'content-length': body.byteLength });
      res.end(body);
    } else {
      const s = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
      res.end(s);
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const id = u.searchParams.get('client') ?? '';
    const round = Number(u.searchParams.get('round'));
    const route = `${req.method} ${u.pathname}`;
    if (route === 'GET /v1/status') {
      return this.#send(res, 200, { round: this.core.round, clients: Object.fromEntries([...this.#clients].map(([k, c]) => [k, { waiting: !!c.poll, suspect: c.suspect }])), history: this.core.history });
    }
    if (route === 'POST /v1/join') {
      const body = await readBody(req, 4096).catch(() => null);
      let clientId = '';
      try { clientId = String(JSON.parse(Buffer.from(body ?? []).toString('utf8')).clientId ?? ''); } catch { /* answered below */ }
      if (!ID_RE.test(clientId)) return this.#send(res, 400, { error: `Expected a clientId matching ${ID_RE} but received ${JSON.stringify(clientId)}` });
      this.#touch(clientId);
      this.#log(`${clientId} joined`);
      this.#wake?.();
      return this.#send(res, 200, { clientId });
    }
    if (!ID_RE.test(id) && route !== 'GET /v1/model') return this.#send(res, 400, { error: 'Expected a client query parameter' });
    if (route === 'GET /v1/task') {
      const c = this.#touch(id);
      const after = Number(u.searchParams.get('after') ?? 0) || 0;
      if (this.#done) return this.#send(res, 200, { status: 'done' });
      const task = this.#taskFor(id, after);
      if (task) return this.#send(res, 200, task);
      if (c.poll) this.#answerPoll(c, { status: 'wait' });
      const timer = setTimeout(() => this.#answerPoll(c, { status: 'wait' }), this.#o.pollMs ?? 10_000);
      c.poll = { res, after, timer };
      // A client that goes away while waiting (killed, disconnected) is no longer available.
      res.once('close', () => { if (c.poll?.res === res) { clearTimeout(timer); c.poll = undefined; c.lastSeen = 0; } });
      this.#wake?.();
      return;
    }
    if (route === 'GET /v1/model') {
      const m = this.#modelBytes;
      if (!m || m.round !== round || this.core.openRound?.round !== round) return this.#send(res, 409, { error: `round ${round} is not open` });
      if (id) this.#touch(id);
      return this.#send(res, 200, m.bytes);
    }
    if (route === 'POST /v1/update') {
      this.#touch(id);
      const limit = this.#o.maxBodyBytes ?? 8 * (this.#modelBytes?.bytes.byteLength ?? 0) + (1 << 20);
      let body: Uint8Array;
      try {
        body = await readBody(req, limit);
      } catch (e) {
        const r = this.core.reject(round, id, 'size', (e as Error).message);
        this.#send(res, 413, r);
        req.destroy();
        return;
      }
      const r = this.core.submit(round, id, body);
      this.#wake?.();
      return this.#send(res, r.accepted ? 200 : 400, r);
    }
    if (route === 'POST /v1/failure') {
      this.#touch(id);
      const body = await readBody(req, 65536).catch(() => new Uint8Array(0));
      let message = 'unspecified';
      try { message = String(JSON.parse(Buffer.from(body).toString('utf8')).message ?? message).slice(0, 500); } catch { /* keep the default */ }
      this.core.reportFailure(round, id, message);
      this.#wake?.();
      return this.#send(res, 200, { ok: true });
    }
    this.#send(res, 404, { error: `no route ${route}` });
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return reject(new Error(`body of ${declared} bytes exceeds the limit of ${limit}`));
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.byteLength;
      if (n > limit) { req.removeAllListeners('data'); reject(new Error(`body exceeds the limit of ${limit} bytes`)); return; }
      chunks.push(c);
    });
    req.on('end', () => { const b = Buffer.concat(chunks); resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)); });
    req.on('error', reject);
  });
}

export interface HttpClientOptions {
  /** Where log lines go. @default stderr */
  log?: (line: string) => void;
  /** Called after the global model is pulled, before local training (tests use it to know a client is mid-round). */
  onPulled?: (round: number) => void;
  /** Give up after this many consecutive failed requests (server gone). @default 20 */
  maxRetries?: number;
  /**
   * Longest wait for one answer of the server, retries included: a server
   * that is down, or accepts connections and never answers, gives an error
   * after this long instead of a client that waits forever. Keep it above the
   * server's pollMs (a /task request is held that long) and the time an
   * update takes to upload.
   * @default 60000
   */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/**
 * A client process's loop: join, then poll -> pull -> fit -> push until the server says done.
 * Resolves to the number of rounds this client trained in.
 * @example await runHttpClient('http://127.0.0.1:4000', 'clinic-3', new BertClient({ model, examples }));
 */
export async function runHttpClient(url: string, clientId: string, client: FederatedClient, o: HttpClientOptions = {}): Promise<number> {
  // A URL that cannot work fails now, not after maxRetries back-offs.
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) invalidRange('an http:// or https:// URL', 'url', url);
  if (typeof clientId !== 'string' || !ID_RE.test(clientId)) invalidRange(`an id matching ${ID_RE}`, 'clientId', clientId);
  if (o === null || typeof o !== 'object') invalidRange('an options object', 'options', o);
  const log = o.log ?? ((l) => process.stderr.write(`[${clientId}] ${l}\n`));
  const base = url.replace(/\/$/, '');
  const q = (path: string, params: Record<string, string | number>) => `${base}${path}?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`;
  const maxRetries = o.maxRetries ?? 20;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) invalidRange('an integer >= 0', 'maxRetries', o.maxRetries);
  const deadlineMs = o.deadlineMs ?? 60_000;
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0 || deadlineMs > 2 ** 31 - 1) invalidRange('a number of milliseconds from 1 to 2^31 - 1', 'deadlineMs', o.deadlineMs);
  let failures = 0;
  // One answer (headers and body) within deadlineMs of the first try, whatever the retries.
  const request = async (input: string, init?: RequestInit): Promise<Response> => {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const left = deadline - Date.now();
      const timeout = AbortSignal.timeout(Math.max(1, left));
      try {
        const r = await fetch(input, { ...init, signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout });
        failures = 0;
        return r;
      } catch (e) {
        if (o.signal?.aborted) throw e;
        const timedOut = timeout.aborted || Date.now() >= deadline;
        if (timedOut || ++failures > maxRetries) {
          const why = timedOut ? `no answer within deadlineMs (${deadlineMs} ms)` : `${failures} failed tries (maxRetries ${maxRetries})`;
          throw new Error(`federated server ${base} unreachable: ${why}; last error: ${(e as Error).message}`, { cause: e });
        }
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** failures, Math.max(0, deadline - Date.now()))));
      }
    }
  };
  const joined = await request(`${base}/v1/join`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ clientId }) });
  if (!joined.ok) throw new Error(`join refused: ${await joined.text()}`);
  let after = 0, trained = 0;
  for (;;) {
    const res = await request(q('/v1/task', { client: clientId, after }));
    const task = await res.json() as { status: string; round: number; config: FitConfig };
    if (task.status === 'done') return trained;
    if (task.status !== 'fit') continue;
    const round = task.round;
    after = round;
    const m = await request(q('/v1/model', { client: clientId, round }));
    if (!m.ok) { log(`round ${round}: model not available (${m.status})`); continue; }
    const { weights } = decodeWeights(new Uint8Array(await m.arrayBuffer()));
    o.onPulled?.(round);
    let body: Uint8Array;
    try {
      body = encodeUpdate(await client.fit(weights, task.config), { round, clientId });
    } catch (e) {
      log(`round ${round}: local training failed: ${(e as Error).message}`);
      await request(q('/v1/failure', { client: clientId, round }), { method: 'POST', body: JSON.stringify({ message: (e as Error).message }) });
      continue;
    }
    const ack = await request(q('/v1/update', { client: clientId, round }), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
    const r = await ack.json() as { accepted: boolean; reason?: string; message?: string };
    if (r.accepted) trained++;
    log(`round ${round}: update ${r.accepted ? 'accepted' : `rejected (${r.reason}: ${r.message})`}`);
  }
}
