/**
 * The federated server over HTTP(S) (node:http, or node:https with `tls`).
 * It drives a FederatedServer; clients (http-client.ts) are separate
 * processes that join, long-poll for a task, pull the global model, train on
 * their own data and push an update (safetensors bytes). A round closes when
 * every sampled client has answered or at the deadline, with the updates
 * accepted by then; a client that disappears is missing from that round and
 * is not sampled again until it is heard from.
 *
 * Security (security.ts): off loopback the server needs TLS and enrolled
 * clients (or `insecure: true`). With a ClientRegistry every request is
 * authenticated (a federation-CA client certificate whose CN is the id, or an
 * operator-issued bearer token) before anything else happens; refusals are
 * 401/403, logged with the peer address, and never reach the strategy. Each
 * task carries a fresh nonce and the SHA-256 of the round's model bytes; an
 * update must carry both (and, under a token, an HMAC of its bytes), so a
 * replayed, stale or substituted update is rejected with a named reason in
 * the round history. Per-client token buckets, per-peer connection caps, a
 * long-poll cap and header/request timeouts keep one client from starving
 * the others.
 *
 * Protocol (JSON unless noted):
 *   POST /v1/join          {clientId}                -> {clientId} (the authenticated id under a registry)
 *   GET  /v1/task?client=&after=R  (long-poll)       -> {status: 'fit', round, config, nonce, modelHash} | {status: 'wait'} | {status: 'done'}
 *   GET  /v1/model?round=R                           -> safetensors bytes of the global weights
 *   POST /v1/update?client=&round=R  (safetensors; x-bertorch-mac under a token)
 *                                                    -> {accepted: true, norm} | 4xx {accepted: false, reason, message}
 *   POST /v1/failure?client=&round=R {message}       -> {ok: true}
 *   GET  /v1/status                                  -> {round, clients, history}
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { invalidRange, invalidType } from '../errors.js';
import { encodeWeights } from './codec.js';
import {
  checkBind, ClientRegistry, CLIENT_ID_RE, hexEqual, loadPem, RateLimiter, sha256Hex, updateMac,
  type Authentication, type ServerTlsOptions,
} from './security.js';
import { FederatedServer, type RoundRecord, type ServerOptions, type UpdateVerifier } from './server.js';
import type { FitConfig } from './strategies.js';
import type { Weights } from './weights.js';

export { runHttpClient, type HttpClientOptions } from './http-client.js';

/** Limits that keep one client (or a stranger) from starving the others. */
export interface HttpLimits {
  /** Sustained requests a second per authenticated client (token bucket). @default 10 */
  requestsPerSecond?: number;
  /** Burst of the per-client bucket. @default 30 */
  burst?: number;
  /** Refused (401/403) requests a second per peer address that are answered and logged; past it, 429 without a log line. @default 5 */
  refusalsPerSecond?: number;
  /** Open connections, all peers together (net.Server maxConnections). @default 512 */
  maxConnections?: number;
  /** Open connections from one peer address; more are closed at once. @default 64 */
  maxConnectionsPerPeer?: number;
  /** Held /task long-polls, all clients together (one per client in any case); past it, 503. @default 1024 */
  maxPolls?: number;
  /** Downloads of the global model per client and round. @default 3 */
  modelPullsPerRound?: number;
  /** Time to receive a request's headers (slow-loris). @default 10000 */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included. @default 300000 */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this long. @default 5000 */
  keepAliveTimeoutMs?: number;
  /** Time to finish a TLS handshake. @default 10000 */
  handshakeTimeoutMs?: number;
}

export interface HttpServerOptions extends ServerOptions {
  /** Loopback unless TLS and enrolled clients are given (or insecure: true). @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Serve HTTPS with this key and certificate; with `ca`, clients may authenticate by certificate (mutual TLS). */
  tls?: ServerTlsOptions;
  /**
   * The enrolled clients (a registry, or the path of a saved one, re-read when it changes). With it, every
   * request must authenticate, and the client id is the authenticated one. Without it (loopback only),
   * anyone who can connect joins under the id it chooses.
   */
  clients?: ClientRegistry | string;
  /** Allow listening off loopback without TLS or enrolment (logged as a warning at start). @default false */
  insecure?: boolean;
  /** Request rates, connection caps, timeouts. */
  limits?: HttpLimits;
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

type Task = { status: 'fit'; round: number; config: FitConfig; nonce: string; modelHash: string };

const LIMIT_DEFAULTS: Required<HttpLimits> = {
  requestsPerSecond: 10, burst: 30, refusalsPerSecond: 5, maxConnections: 512, maxConnectionsPerPeer: 64, maxPolls: 1024,
  modelPullsPerRound: 3, headersTimeoutMs: 10_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 5_000, handshakeTimeoutMs: 10_000,
};

/**
 * The federated server on node:http / node:https.
 * @example
 * const clients = new ClientRegistry();
 * const token = clients.issueToken('clinic-1');   // hand to clinic-1
 * const server = new FederatedHttpServer(fromModel(model), {
 *   tls: { key: 'certs/server.key', cert: 'certs/server.crt', ca: 'certs/ca.crt' }, clients, minClients: 2,
 * });
 * const url = await server.start();          // https://127.0.0.1:<port>
 * const history = await server.run({ rounds: 10 });
 * await server.close();
 */
export class FederatedHttpServer {
  readonly core: FederatedServer;
  /** The enrolled clients (null: open enrolment on loopback). Revoke here; it applies at the next request. */
  readonly registry: ClientRegistry | null;
  #o: HttpServerOptions;
  #limits: Required<HttpLimits>;
  #http: Server | null = null;
  #clients = new Map<string, ClientEntry>();
  #round: { round: number; bytes: Uint8Array; hash: string; nonces: Map<string, string>; pulls: Map<string, number> } | null = null;
  /** Every nonce issued (nonce -> client and round), to tell a replay from a forgery. */
  #issued = new Map<string, { clientId: string; round: number }>();
  #polls = 0;
  #peers = new Map<string, number>();
  #rate: RateLimiter;
  #refusals: RateLimiter;
  #quietRefusals = 0;
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
    if (o.limits !== undefined && (o.limits === null || typeof o.limits !== 'object')) invalidType('an object', 'limits', o.limits);
    this.#limits = { ...LIMIT_DEFAULTS, ...o.limits };
    for (const [k, v] of Object.entries(this.#limits)) if (!(Number.isFinite(v) && v > 0)) invalidRange('a positive number', `limits.${k}`, v);
    if (o.clients === undefined) this.registry = null;
    else if (o.clients instanceof ClientRegistry) this.registry = o.clients;
    else if (typeof o.clients === 'string') this.registry = ClientRegistry.load(o.clients);
    else invalidType('a ClientRegistry or the path of a saved one', 'clients', o.clients);
    if (o.tls !== undefined && (o.tls === null || typeof o.tls !== 'object' || !o.tls.key || !o.tls.cert)) invalidType('{key, cert, ca?} (PEM paths or bytes)', 'tls', o.tls);
    this.#rate = new RateLimiter(this.#limits.requestsPerSecond, this.#limits.burst);
    this.#refusals = new RateLimiter(this.#limits.refusalsPerSecond, this.#limits.refusalsPerSecond * 2);
  }

  get url(): string {
    const a = this.#http?.address() as AddressInfo | null;
    if (!a) throw new Error('the server is not started');
    return `${this.#o.tls ? 'https' : 'http'}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }

  /**
   * Listens (127.0.0.1, an ephemeral port by default) and resolves to the base URL.
   * @throws {FederatedSecurityError} code ERR_INSECURE_BIND before listening off loopback without TLS and enrolment.
   */
  async start(): Promise<string> {
    const host = this.#o.host ?? '127.0.0.1';
    checkBind(host, this.#o, this.#log);
    const L = this.#limits;
    const base = { headersTimeout: L.headersTimeoutMs, requestTimeout: L.requestTimeoutMs, keepAliveTimeout: L.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, L.headersTimeoutMs / 2) };
    const handler = (req: IncomingMessage, res: ServerResponse) => { this.#handle(req, res).catch((e) => this.#send(res, 500, { error: (e as Error).message })); };
    const tls = this.#o.tls;
    const http: Server = tls
      ? createHttpsServer({
        ...base, key: loadPem(tls.key, 'tls.key'), cert: loadPem(tls.cert, 'tls.cert'), minVersion: 'TLSv1.2', handshakeTimeout: L.handshakeTimeoutMs,
        // Certificates are checked per request (handle -> authenticate), so a wrong one gets a 401 and a log line, not a bare reset.
        ...(tls.ca ? { ca: loadPem(tls.ca, 'tls.ca'), requestCert: true, rejectUnauthorized: false } : {}),
      }, handler)
      : createHttpServer(base, handler);
    http.maxConnections = L.maxConnections;
    // Idle sockets (not long-polls, which are answered within pollMs) are closed.
    http.setTimeout(Math.max(60_000, 2 * (this.#o.pollMs ?? 10_000)));
    http.on('connection', (s: Socket) => this.#countPeer(s));
    http.on('tlsClientError', (e: Error, s: Socket) => this.#log(`TLS handshake from ${s.remoteAddress}:${s.remotePort} failed: ${e.message}`));
    this.#http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(this.#o.port ?? 0, host, () => { http.off('error', reject); resolve(); });
    });
    this.#log(`listening on ${this.url}${this.registry ? ` (${this.registry.list().length} enrolled clients)` : ' (open enrolment: any client id)'}`);
    return this.url;
  }

  #countPeer(s: Socket): void {
    const peer = s.remoteAddress ?? '?';
    const n = (this.#peers.get(peer) ?? 0) + 1;
    if (n > this.#limits.maxConnectionsPerPeer) { s.destroy(); return; }
    this.#peers.set(peer, n);
    s.once('close', () => { const m = (this.#peers.get(peer) ?? 1) - 1; if (m > 0) this.#peers.set(peer, m); else this.#peers.delete(peer); });
  }

  /** Clients that can be sampled now: heard from recently, not suspected gone, not revoked. */
  available(): string[] {
    const now = Date.now(), limit = this.#o.clientTimeoutMs ?? 30_000;
    this.#refreshRegistry();
    return [...this.#clients].filter(([id, c]) => (!this.registry || this.registry.isActive(id)) && (c.poll || (!c.suspect && now - c.lastSeen < limit))).map(([id]) => id);
  }

  #refreshRegistry(): void {
    try {
      this.registry?.refresh();
    } catch (e) {
      this.#log(`keeping the previous client registry: ${(e as Error).message}`);
    }
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
        const bytes = encodeWeights(this.core.global, { round: String(plan.round) });
        const nonces = new Map(plan.clients.map((id) => [id, randomBytes(16).toString('hex')]));
        for (const [id, nonce] of nonces) this.#issued.set(nonce, { clientId: id, round: plan.round });
        this.#round = { round: plan.round, bytes, hash: sha256Hex(bytes), nonces, pulls: new Map() };
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
    if (this.#quietRefusals) this.#log(`${this.#quietRefusals} more refused requests were answered 429 without a log line each`);
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

  #taskFor(id: string, after: number): Task | null {
    const plan = this.core.openRound, r = this.#round;
    if (!plan || !r || r.round !== plan.round || plan.round <= after || !plan.configs.has(id)) return null;
    return { status: 'fit', round: plan.round, config: plan.configs.get(id)!, nonce: r.nonces.get(id)!, modelHash: r.hash };
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
    this.#polls--;
    clearTimeout(p.timer);
    this.#send(p.res, 200, body);
  }

  #send(res: ServerResponse, status: number, body: object | Uint8Array, headers: Record<string, string | number> = {}): void {
    if (res.writableEnded || res.destroyed || res.headersSent) return;
    if (body instanceof Uint8Array) {
      res.writeHead(status, { ...headers, 'content-type': 'application/octet-stream', 'content-length': body.byteLength });
      res.end(body);
    } else {
      const s = JSON.stringify(body);
      res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
      res.end(s);
    }
  }

  /** Who sent `req` under the registry (certificate first, then bearer token). */
  #authenticate(req: IncomingMessage): Authentication {
    const reg = this.registry!;
    this.#refreshRegistry();
    const sock = req.socket as TLSSocket;
    const cert = sock.encrypted && this.#o.tls?.ca ? sock.getPeerCertificate() : null;
    if (cert && Object.keys(cert).length > 0) {
      if (!sock.authorized) return { ok: false, status: 401, reason: `client certificate CN=${JSON.stringify(cert.subject?.CN ?? '')} refused: ${sock.authorizationError}` };
      return reg.authenticateCertificate(cert);
    }
    const authz = req.headers.authorization;
    if (typeof authz === 'string' && /^bearer /i.test(authz)) return reg.authenticateToken(authz.slice(7).trim());
    return { ok: false, status: 401, reason: `no credentials (a client certificate${this.#o.tls?.ca ? '' : ', which this server does not ask for,'} or a bearer token)` };
  }

  #refuse(req: IncomingMessage, res: ServerResponse, status: number, reason: string): void {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    if (this.#refusals.take(req.socket.remoteAddress ?? '?') > 0) {
      // A stranger hammering the port: answer cheaply and keep the log readable.
      this.#quietRefusals++;
      this.#send(res, 429, { error: 'too many refused requests' }, { 'retry-after': 1, connection: 'close' });
      return;
    }
    this.#log(`refused ${req.method} ${(req.url ?? '').split('?')[0]} from ${peer}: ${status} ${reason}`);
    this.#send(res, status, { error: reason });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${u.pathname}`;
    const asked = u.searchParams.get('client') ?? '';
    let id = asked;
    let macKey: Buffer | undefined;
    if (this.registry) {
      const a = this.#authenticate(req);
      if (!a.ok) return this.#refuse(req, res, a.status, a.reason);
      if (asked && asked !== a.id) return this.#refuse(req, res, 403, `authenticated as ${a.id} but asked as ${JSON.stringify(asked)}`);
      id = a.id;
      macKey = a.macKey;
      const wait = this.#rate.take(id);
      if (wait > 0) return this.#send(res, 429, { error: `rate limit of ${this.#limits.requestsPerSecond} requests/s exceeded` }, { 'retry-after': Math.ceil(wait) });
    }
    if (route === 'GET /v1/status') {
      return this.#send(res, 200, { round: this.core.round, clients: Object.fromEntries([...this.#clients].map(([k, c]) => [k, { waiting: !!c.poll, suspect: c.suspect }])), history: this.core.history });
    }
    if (route === 'POST /v1/join') return this.#join(req, res, id);
    if (!CLIENT_ID_RE.test(id) && route !== 'GET /v1/model') return this.#send(res, 400, { error: 'Expected a client query parameter' });
    if (route === 'GET /v1/task') return this.#task(req, res, id, Number(u.searchParams.get('after') ?? 0) || 0);
    if (route === 'GET /v1/model') return this.#model(res, id, Number(u.searchParams.get('round')));
    if (route === 'POST /v1/update') return this.#update(req, res, id, macKey);
    if (route === 'POST /v1/failure') {
      this.#touch(id);
      const body = await readBody(req, 65536).catch(() => new Uint8Array(0));
      let message = 'unspecified';
      try { message = String(JSON.parse(Buffer.from(body).toString('utf8')).message ?? message).slice(0, 500); } catch { /* keep the default */ }
      this.core.reportFailure(Number(u.searchParams.get('round')), id, message);
      this.#wake?.();
      return this.#send(res, 200, { ok: true });
    }
    this.#send(res, 404, { error: `no route ${route}` });
  }

  async #join(req: IncomingMessage, res: ServerResponse, authenticated: string): Promise<void> {
    const body = await readBody(req, 4096).catch(() => null);
    let clientId = '';
    try { clientId = String(JSON.parse(Buffer.from(body ?? []).toString('utf8')).clientId ?? ''); } catch { /* answered below */ }
    if (this.registry) {
      if (clientId && clientId !== authenticated) return this.#refuse(req, res, 403, `authenticated as ${authenticated} but joined as ${JSON.stringify(clientId)}`);
      clientId = authenticated;
    }
    if (!CLIENT_ID_RE.test(clientId)) return this.#send(res, 400, { error: `Expected a clientId matching ${CLIENT_ID_RE} but received ${JSON.stringify(clientId)}` });
    this.#touch(clientId);
    this.#log(`${clientId} joined from ${req.socket.remoteAddress}`);
    this.#wake?.();
    return this.#send(res, 200, { clientId });
  }

  #task(_req: IncomingMessage, res: ServerResponse, id: string, after: number): void {
    const c = this.#touch(id);
    if (this.#done) return this.#send(res, 200, { status: 'done' });
    const task = this.#taskFor(id, after);
    if (task) return this.#send(res, 200, task);
    if (c.poll) this.#answerPoll(c, { status: 'wait' });
    if (this.#polls >= this.#limits.maxPolls) return this.#send(res, 503, { error: `${this.#polls} long-polls are held (limits.maxPolls)` }, { 'retry-after': 1 });
    const timer = setTimeout(() => this.#answerPoll(c, { status: 'wait' }), this.#o.pollMs ?? 10_000);
    c.poll = { res, after, timer };
    this.#polls++;
    // A client that goes away while waiting (killed, disconnected) is no longer available.
    res.once('close', () => { if (c.poll?.res === res) { clearTimeout(timer); c.poll = undefined; this.#polls--; c.lastSeen = 0; } });
    this.#wake?.();
  }

  #model(res: ServerResponse, id: string, round: number): void {
    const r = this.#round;
    if (!r || r.round !== round || this.core.openRound?.round !== round) return this.#send(res, 409, { error: `round ${round} is not open` });
    if (this.registry) {
      // Enrolled federations hand the model only to the round's participants, a bounded number of times.
      if (!r.nonces.has(id)) return this.#send(res, 403, { error: `${id} is not sampled in round ${round}` });
      const n = (r.pulls.get(id) ?? 0) + 1;
      r.pulls.set(id, n);
      if (n > this.#limits.modelPullsPerRound) return this.#send(res, 429, { error: `more than ${this.#limits.modelPullsPerRound} downloads of round ${round}'s model` }, { 'retry-after': 5 });
    }
    if (id) this.#touch(id);
    return this.#send(res, 200, r.bytes);
  }

  async #update(req: IncomingMessage, res: ServerResponse, id: string, macKey: Buffer | undefined): Promise<void> {
    this.#touch(id);
    const open = this.core.openRound, r = this.#round;
    if (!open || !r || r.round !== open.round) {
      req.resume();
      const message = `no round is open (last: ${this.core.round})`;
      this.#log(`rejected the update of ${id}: stale: ${message}`);
      return this.#send(res, 409, { accepted: false, reason: 'stale', message });
    }
    const round = open.round;
    const limit = this.#o.maxBodyBytes ?? 8 * r.bytes.byteLength + (1 << 20);
    let body: Uint8Array;
    try {
      body = await readBody(req, limit);
    } catch (e) {
      this.#send(res, 413, this.core.reject(round, id, 'size', (e as Error).message), { connection: 'close' });
      req.destroy();
      return;
    }
    if (macKey) {
      const mac = req.headers['x-bertorch-mac'];
      if (typeof mac !== 'string' || !hexEqual(updateMac(macKey, body), mac))
        return this.#send(res, 400, this.core.reject(round, id, 'mac', `x-bertorch-mac ${typeof mac === 'string' ? 'does not match the body' : 'is missing'}`));
    }
    const result = this.core.submit(round, id, body, { verify: this.#verifier(round, id) });
    this.#wake?.();
    return this.#send(res, result.accepted ? 200 : 400, result);
  }

  /** Checks an update's round, nonce and model hash against what this server issued to `id` for `round`. */
  #verifier(round: number, id: string): UpdateVerifier {
    return (about) => {
      const issued = this.#issued.get(about.nonce);
      if (about.clientId !== id) return { reason: 'client', message: `update names ${JSON.stringify(about.clientId)}, its sender is ${id}` };
      if (issued && (issued.round !== round || issued.clientId !== id))
        return { reason: 'replay', message: `nonce issued to ${issued.clientId} for round ${issued.round}, sent again in round ${round}` };
      if (about.round !== round) return { reason: 'stale', message: `update is for round ${about.round}, round ${round} is open` };
      if (!issued || this.#round?.nonces.get(id) !== about.nonce)
        return { reason: 'nonce', message: `nonce ${JSON.stringify(about.nonce.slice(0, 32))} was not issued to ${id} for round ${round}` };
      if (about.modelHash !== this.#round.hash)
        return { reason: 'model', message: `trained from model ${about.modelHash.slice(0, 16) || '(none)'}..., round ${round}'s model is ${this.#round.hash.slice(0, 16)}...` };
      return null;
    };
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
