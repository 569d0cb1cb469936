/**
 * A federated client process's side of http.ts: join, then poll -> pull ->
 * fit -> push until the server says done. Requests go through node:http or
 * node:https with one keep-alive agent that carries the TLS material (the CA
 * bundle that must have signed the server's certificate, and the client's
 * own certificate for mutual TLS); a bearer token goes in Authorization and
 * MACs every update. The client checks that the model it pulled is the one
 * the task names (SHA-256) and sends that hash and the task's nonce back with
 * its update. Every answer comes within deadlineMs, retries included.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { invalidRange } from '../errors.js';
import { decodeWeights, encodeUpdate } from './codec.js';
import { CLIENT_ID_RE, FederatedSecurityError, loadPem, macKeyOf, sha256Hex, updateMac, type ClientTlsOptions } from './security.js';
import type { FederatedClient } from './server.js';
import type { FitConfig } from './strategies.js';

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
  /** TLS for https:// URLs: the CA bundle to verify the server with and, for mutual TLS, this client's certificate and key. */
  tls?: ClientTlsOptions;
  /** The bearer token the federation's operator issued to this client (ClientRegistry.issueToken). */
  token?: string;
}

interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer }

// Errors that retrying cannot fix: the server's certificate is not the one we trust.
const TLS_FATAL = /CERT|SELF_SIGNED|ERR_TLS|ERR_SSL|UNABLE_TO|HOSTNAME|ALTNAME/;

/**
 * Runs one client until the server says done; resolves to the number of rounds it trained in.
 * Under an enrolled server, the id is the one its credentials name (`clientId` must agree).
 * @throws {FederatedSecurityError} code ERR_REFUSED when the server answers 401/403 (not enrolled, revoked, wrong certificate).
 * @example
 * await runHttpClient('https://fl.example.org:4000', 'clinic-3', new BertClient({ model, examples }),
 *   { tls: { ca: 'certs/ca.crt', cert: 'certs/client-clinic-3.crt', key: 'certs/client-clinic-3.key' } });
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
  if (typeof clientId !== 'string' || !CLIENT_ID_RE.test(clientId)) invalidRange(`an id matching ${CLIENT_ID_RE}`, 'clientId', clientId);
  if (o === null || typeof o !== 'object') invalidRange('an options object', 'options', o);
  if (o.token !== undefined && (typeof o.token !== 'string' || !o.token)) invalidRange('a token string', 'token', o.token);
  const log = o.log ?? ((l) => process.stderr.write(`[${clientId}] ${l}\n`));
  const base = url.replace(/\/$/, '');
  const maxRetries = o.maxRetries ?? 20;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) invalidRange('an integer >= 0', 'maxRetries', o.maxRetries);
  const deadlineMs = o.deadlineMs ?? 60_000;
  if (!Number.isFinite(deadlineMs) || deadlineMs <= 0 || deadlineMs > 2 ** 31 - 1) invalidRange('a number of milliseconds from 1 to 2^31 - 1', 'deadlineMs', o.deadlineMs);
  const https = parsed.protocol === 'https:';
  if (o.tls && !https) invalidRange('an https:// URL when tls is given', 'url', url);
  const agent = https
    ? new HttpsAgent({
      keepAlive: true, minVersion: 'TLSv1.2',
      ...(o.tls?.ca ? { ca: loadPem(o.tls.ca, 'tls.ca') } : {}),
      ...(o.tls?.cert ? { cert: loadPem(o.tls.cert, 'tls.cert') } : {}),
      ...(o.tls?.key ? { key: loadPem(o.tls.key, 'tls.key') } : {}),
    })
    : new HttpAgent({ keepAlive: true });
  const auth: Record<string, string> = o.token ? { authorization: `Bearer ${o.token}` } : {};
  const macKey = o.token ? macKeyOf(o.token) : null;
  let failures = 0;

  const once = (method: string, path: string, headers: Record<string, string>, body: Uint8Array | undefined, signal: AbortSignal) =>
    new Promise<Answer>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(`${base}${path}`, {
        method, agent, signal, headers: { ...auth, ...headers, ...(body ? { 'content-length': String(body.byteLength) } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  // One answer within deadlineMs of the first try, whatever the retries; 429/503 wait as the server asks.
  const request = async (method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array): Promise<Answer> => {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      const timeout = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
      let r: Answer;
      try {
        r = await once(method, path, headers, body, o.signal ? AbortSignal.any([o.signal, timeout]) : timeout);
      } catch (e) {
        if (o.signal?.aborted) throw e;
        const code = String((e as { code?: string }).code ?? '');
        if (TLS_FATAL.test(code)) throw new FederatedSecurityError('ERR_REFUSED', `TLS with ${base} failed (${code}): ${(e as Error).message}`);
        const timedOut = timeout.aborted || Date.now() >= deadline;
        if (timedOut || ++failures > maxRetries) {
          const why = timedOut ? `no answer within deadlineMs (${deadlineMs} ms)` : `${failures} failed tries (maxRetries ${maxRetries})`;
          throw new Error(`federated server ${base} unreachable: ${why}; last error: ${(e as Error).message}`, { cause: e });
        }
        await sleep(Math.min(2000, 100 * 2 ** failures, Math.max(0, deadline - Date.now())));
        continue;
      }
      failures = 0;
      if (r.status === 401 || r.status === 403)
        throw new FederatedSecurityError('ERR_REFUSED', `${base} refused ${method} ${path.split('?')[0]}: ${r.status} ${errorOf(r)}`);
      if ((r.status === 429 || r.status === 503) && Date.now() < deadline) {
        await sleep(Math.min(5000, 1000 * (Number(r.headers['retry-after']) || 1), Math.max(0, deadline - Date.now())));
        continue;
      }
      return r;
    }
  };
  const q = (path: string, params: Record<string, string | number>) => `${path}?${new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)]))}`;

  try {
    const joined = await request('POST', '/v1/join', { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ clientId })));
    if (joined.status !== 200) throw new Error(`join refused: ${joined.body.toString()}`);
    const id = String(JSON.parse(joined.body.toString()).clientId);
    let after = 0, trained = 0;
    for (;;) {
      const res = await request('GET', q('/v1/task', { client: id, after }));
      if (res.status !== 200) { log(`task: ${res.status} ${errorOf(res)}`); await sleep(1000); continue; }
      const task = JSON.parse(res.body.toString()) as { status: string; round: number; config: FitConfig; nonce?: string; modelHash?: string };
      if (task.status === 'done') return trained;
      if (task.status !== 'fit') continue;
      const round = task.round;
      after = round;
      const m = await request('GET', q('/v1/model', { client: id, round }));
      if (m.status !== 200) { log(`round ${round}: model not available (${m.status})`); continue; }
      const modelHash = sha256Hex(m.body);
      if (task.modelHash && modelHash !== task.modelHash) {
        // Someone between us and the server swapped the model: do not train on it.
        log(`round ${round}: the model pulled (${modelHash.slice(0, 16)}...) is not the task's (${task.modelHash.slice(0, 16)}...)`);
        await request('POST', q('/v1/failure', { client: id, round }), {}, Buffer.from(JSON.stringify({ message: 'model hash mismatch' })));
        continue;
      }
      const { weights } = decodeWeights(new Uint8Array(m.body.buffer, m.body.byteOffset, m.body.byteLength));
      o.onPulled?.(round);
      let body: Uint8Array;
      try {
        body = encodeUpdate(await client.fit(weights, task.config), { round, clientId: id, nonce: task.nonce, modelHash });
      } catch (e) {
        log(`round ${round}: local training failed: ${(e as Error).message}`);
        await request('POST', q('/v1/failure', { client: id, round }), {}, Buffer.from(JSON.stringify({ message: (e as Error).message })));
        continue;
      }
      const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
      if (macKey) headers['x-bertorch-mac'] = updateMac(macKey, body);
      const ack = await request('POST', q('/v1/update', { client: id, round }), headers, body);
      const r = JSON.parse(ack.body.toString()) as { accepted: boolean; reason?: string; message?: string };
      if (r.accepted) trained++;
      log(`round ${round}: update ${r.accepted ? 'accepted' : `rejected (${r.reason}: ${r.message})`}`);
    }
  } finally {
    agent.destroy();
  }
}

function errorOf(r: Answer): string {
  try { return String(JSON.parse(r.body.toString()).error ?? r.body.toString()); } catch { return r.body.toString().slice(0, 200); }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
