/**
 * What lets the federated HTTP server leave loopback: TLS material (PEM
 * paths or bytes), the bind check (no plaintext off loopback unless the
 * operator says `insecure: true`), the enrolment registry (who may take part:
 * mutual-TLS subjects and operator-issued bearer tokens, stored only as
 * SHA-256 hashes and compared in constant time, revocable at any request),
 * the update MAC that binds an update's bytes to its sender, and a token
 * bucket for per-client request rates. Plain node:crypto; no libtorch.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { PeerCertificate } from 'node:tls';
import { invalidRange, invalidType } from '../errors.js';

/** A client id: what the server calls a participant in logs and the round history. */
export const CLIENT_ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** PEM text, PEM bytes, or the path of a PEM file. */
export type PemSource = string | Buffer | Uint8Array;

/** The server's TLS material. */
export interface ServerTlsOptions {
  /** The server's private key. */
  key: PemSource;
  /** The server's certificate (chain). */
  cert: PemSource;
  /**
   * The federation CA: when given, clients are asked for a certificate and
   * those it signed may authenticate by it (mutual TLS; the client id is the
   * certificate subject's CN).
   */
  ca?: PemSource;
}

/** A client's TLS material. */
export interface ClientTlsOptions {
  /** CA bundle the server's certificate must chain to (instead of the system's). */
  ca?: PemSource;
  /** Client certificate for mutual TLS. */
  cert?: PemSource;
  /** Its private key. */
  key?: PemSource;
}

/** An error of the federated security layer; `code` says which. */
export class FederatedSecurityError extends Error {
  readonly code: 'ERR_INSECURE_BIND' | 'ERR_TLS_MATERIAL' | 'ERR_REGISTRY' | 'ERR_REFUSED';
  constructor(code: FederatedSecurityError['code'], message: string) {
    super(message);
    this.name = 'FederatedSecurityError';
    this.code = code;
  }
}

/** PEM bytes from text, bytes or a path (a string that does not start with "-----BEGIN" is a path). */
export function loadPem(src: PemSource, name: string): Buffer {
  if (Buffer.isBuffer(src)) return src;
  if (src instanceof Uint8Array) return Buffer.from(src);
  if (typeof src !== 'string') invalidType('PEM text, bytes or a file path', name, src);
  if (src.trimStart().startsWith('-----BEGIN')) return Buffer.from(src);
  try {
    return readFileSync(src);
  } catch (e) {
    throw new FederatedSecurityError('ERR_TLS_MATERIAL', `cannot read ${name} from ${src}: ${(e as Error).message}`);
  }
}

/** Whether `host` only accepts connections from this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return h.slice(7).startsWith('127.');
  return false;
}

/**
 * Refuses a bind that would expose plaintext or unauthenticated federated
 * traffic: off loopback the server needs `tls` and enrolled clients, or an
 * explicit `insecure: true`, which is logged loudly.
 * @throws {FederatedSecurityError} code ERR_INSECURE_BIND.
 */
export function checkBind(host: string, o: { tls?: unknown; clients?: unknown; insecure?: boolean }, log: (line: string) => void): void {
  if (isLoopback(host)) return;
  if (o.tls && o.clients) return;
  const missing = [!o.tls ? 'TLS' : '', !o.clients ? 'client enrolment' : ''].filter(Boolean).join(' and ');
  if (o.insecure === true) {
    log(`WARNING: INSECURE: listening on ${host} without ${missing} (insecure: true). Anyone who can reach this port can read the ` +
      `global model${o.clients ? '' : ', join under any id and push updates into the aggregate'}. Use this only on a network you fully trust.`);
    return;
  }
  throw new FederatedSecurityError('ERR_INSECURE_BIND',
    `refusing to listen on ${host} without ${missing}: federated traffic off loopback must be encrypted and authenticated. ` +
    `Enable TLS with tls: { key, cert, ca } (PEM paths or bytes; npx tsx scripts/federation.ts certs <dir> makes a development CA and certificates) ` +
    `and enrol clients with clients: ClientRegistry (certificates or tokens), bind host '127.0.0.1', ` +
    `or opt out explicitly with insecure: true.`);
}

/** SHA-256 of bytes or text, as hex. */
export function sha256Hex(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The key a token-authenticated client MACs its updates with (the server stores it; it does not authenticate). */
export function macKeyOf(token: string): Buffer {
  return createHmac('sha256', token).update('bertorch-federated-update-mac-v1').digest();
}

/** HMAC-SHA256 of an update's bytes under a mac key, hex (the x-bertorch-mac header). */
export function updateMac(macKey: Buffer, body: Uint8Array): string {
  return createHmac('sha256', macKey).update(body).digest('hex');
}

/** Constant-time equality of two hex strings (false when their lengths differ). */
export function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex'), y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** One enrolled participant as the registry stores it. */
export interface EnrolledClient {
  id: string;
  /** SHA-256 of the bearer token (hex); the token itself is never stored. */
  tokenHash?: string;
  /** HMAC key for update MACs, derived from the token (hex). */
  macKey?: string;
  /** May authenticate with a federation-CA certificate whose subject CN is `id`. */
  certificate?: boolean;
  /** When set, only the certificate with this SHA-256 fingerprint (as node:tls prints it). */
  fingerprint256?: string;
  enrolledAt: string;
  revokedAt?: string;
}

/** Who a request comes from, or why it is refused. */
export type Authentication =
  | { ok: true; id: string; via: 'certificate' | 'token'; macKey?: Buffer }
  | { ok: false; status: 401 | 403; reason: string };

const TOKEN_PREFIX = 'bt1.';
// Compared against when the id in a token is unknown, so both paths hash and compare.
const DUMMY_HASH = sha256Hex('bertorch-no-such-client');

/**
 * The enrolled clients of a federation: the operator enrols an id for
 * mutual TLS or issues it a bearer token, and can revoke it; the server
 * consults the registry at every request (and re-reads its file when it
 * changes), so a revocation takes effect at the client's next request.
 * @example
 * const reg = new ClientRegistry();
 * const token = reg.issueToken('clinic-1');       // give this to clinic-1, once
 * reg.enrollCertificate('clinic-2');              // clinic-2 authenticates with its certificate
 * reg.save('federation/clients.json');
 */
export class ClientRegistry {
  #clients = new Map<string, EnrolledClient>();
  #file?: string;
  #mtime = 0;

  /** Reads a registry saved by {@link save}; the server re-reads it when it changes on disk. */
  static load(file: string): ClientRegistry {
    const r = new ClientRegistry();
    r.#file = file;
    r.#read();
    return r;
  }

  #read(): void {
    const file = this.#file!;
    let json: unknown;
    try {
      this.#mtime = statSync(file).mtimeMs;
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new FederatedSecurityError('ERR_REGISTRY', `cannot read the client registry ${file}: ${(e as Error).message}`);
    }
    const list = (json as { clients?: unknown })?.clients;
    if (!Array.isArray(list)) throw new FederatedSecurityError('ERR_REGISTRY', `${file}: expected {"clients": [...]}`);
    const next = new Map<string, EnrolledClient>();
    for (const c of list as EnrolledClient[]) {
      if (!c || typeof c.id !== 'string' || !CLIENT_ID_RE.test(c.id)) throw new FederatedSecurityError('ERR_REGISTRY', `${file}: bad client entry ${JSON.stringify(c)}`);
      next.set(c.id, c);
    }
    this.#clients = next;
  }

  /** Picks up changes of the registry file (revocations by another process). Cheap: one stat. */
  refresh(): void {
    if (!this.#file) return;
    let m = 0;
    try { m = statSync(this.#file).mtimeMs; } catch { return; }
    if (m !== this.#mtime) this.#read();
  }

  /** Writes the registry (hashes only) to `file` atomically, and remembers the file. */
  save(file = this.#file): void {
    if (!file) invalidType('a file path', 'file', file);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify({ clients: [...this.#clients.values()] }, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
    this.#file = file;
    this.#mtime = statSync(file).mtimeMs;
  }

  #entry(id: string): EnrolledClient {
    if (typeof id !== 'string' || !CLIENT_ID_RE.test(id)) invalidRange(`an id matching ${CLIENT_ID_RE}`, 'id', id);
    const e = this.#clients.get(id) ?? { id, enrolledAt: new Date().toISOString() };
    delete e.revokedAt;
    this.#clients.set(id, e);
    return e;
  }

  /**
   * Issues (or replaces) `id`'s bearer token and returns it: the only time it
   * exists in clear. Format `bt1.<id>.<43 base64url chars>` (256 random bits).
   */
  issueToken(id: string): string {
    const e = this.#entry(id);
    const token = `${TOKEN_PREFIX}${id}.${randomBytes(32).toString('base64url')}`;
    e.tokenHash = sha256Hex(token);
    e.macKey = macKeyOf(token).toString('hex');
    return token;
  }

  /** Lets `id` authenticate with a federation-CA certificate whose subject CN is `id` (optionally only the one with this fingerprint). */
  enrollCertificate(id: string, o: { fingerprint256?: string } = {}): void {
    const e = this.#entry(id);
    e.certificate = true;
    if (o.fingerprint256) e.fingerprint256 = o.fingerprint256.toUpperCase();
  }

  /** Revokes `id`: its next request is refused (403), whatever its credentials. */
  revoke(id: string): void {
    const e = this.#clients.get(id);
    if (!e) throw new RangeError(`Expected an enrolled client id for id but received ${JSON.stringify(id)}`);
    e.revokedAt = new Date().toISOString();
  }

  /** The enrolled clients (copies). */
  list(): EnrolledClient[] { return [...this.#clients.values()].map((c) => ({ ...c })); }

  /** Whether `id` is enrolled and not revoked. */
  isActive(id: string): boolean {
    const e = this.#clients.get(id);
    return !!e && !e.revokedAt;
  }

  /** Checks an `Authorization: Bearer <token>` value. */
  authenticateToken(token: string): Authentication {
    const lastDot = token.lastIndexOf('.');
    const id = token.startsWith(TOKEN_PREFIX) && lastDot > TOKEN_PREFIX.length ? token.slice(TOKEN_PREFIX.length, lastDot) : '';
    const e = CLIENT_ID_RE.test(id) ? this.#clients.get(id) : undefined;
    const match = hexEqual(sha256Hex(token), e?.tokenHash ?? DUMMY_HASH) && !!e?.tokenHash;
    if (!e || !match) return { ok: false, status: 401, reason: 'token not issued by this server' };
    if (e.revokedAt) return { ok: false, status: 403, reason: `${id} was revoked at ${e.revokedAt}` };
    return { ok: true, id, via: 'token', macKey: Buffer.from(e.macKey!, 'hex') };
  }

  /** Checks a peer certificate that the TLS layer verified against the federation CA. */
  authenticateCertificate(cert: PeerCertificate): Authentication {
    const cn = cert.subject?.CN;
    const id = Array.isArray(cn) ? '' : String(cn ?? '');
    const e = CLIENT_ID_RE.test(id) ? this.#clients.get(id) : undefined;
    if (!e?.certificate) return { ok: false, status: 403, reason: `certificate subject CN=${JSON.stringify(id)} is not enrolled` };
    if (e.fingerprint256 && e.fingerprint256 !== cert.fingerprint256?.toUpperCase()) return { ok: false, status: 403, reason: `certificate of ${id} is not the enrolled one` };
    if (e.revokedAt) return { ok: false, status: 403, reason: `${id} was revoked at ${e.revokedAt}` };
    return { ok: true, id, via: 'certificate' };
  }
}

/** Per-key token buckets: `rate` requests a second on average, bursts of `burst`. */
export class RateLimiter {
  #buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly rate: number, readonly burst: number) {
    if (!(rate > 0)) invalidRange('a positive number', 'rate', rate);
    if (!(burst >= 1)) invalidRange('a number >= 1', 'burst', burst);
  }

  /** Takes one token for `key`: 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    const now = performance.now() / 1000;
    let b = this.#buckets.get(key);
    if (!b) {
      if (this.#buckets.size > 100_000) this.#buckets.clear();  // bounded memory under a spray of keys
      b = { tokens: this.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.rate);
    b.at = now;
    if (b.tokens >= 1) { b.tokens -= 1; return 0; }
    return (1 - b.tokens) / this.rate;
  }
}
