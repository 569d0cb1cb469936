/**
 * The federated server's core, independent of transport: it holds the global
 * weights, samples clients per round (seeded), hands out fit configs, checks
 * every update that comes back (validate.ts), and closes a round with the
 * updates it accepted, through the strategy (or DP's clipped, noised mean).
 * The in-process simulation (simulation.ts) and the HTTP server (http.ts)
 * drive it; neither does any math of its own. Plain data, no libtorch;
 * one round is open at a time.
 */
import { invalidRange, invalidType } from '../errors.js';
import { mixSeed, mulberry32, permutation } from '../train/rng.js';
import { RdpAccountant } from './accountant.js';
import { decodeUpdate, type ClientUpdate, type UpdateAbout, type WireDecodeOptions } from './codec.js';
import { checkDpOptions, gaussianSource, noisyClippedMean, uniformSource, type DpOptions } from './dp.js';
import { FedAvg, FIT_DEFAULTS, type ClientResult, type FitConfig, type FederatedStrategy } from './strategies.js';
import { validateUpdate, type RejectReason, type ValidationOptions } from './validate.js';
import { checkWeights, cloneWeights, l2Norm, subtract, type Weights } from './weights.js';

export type { ClientUpdate } from './codec.js';

/** A participant: gets the global weights and its config, trains on its own data, returns an update. */
export interface FederatedClient {
  fit(global: Weights, config: FitConfig): Promise<ClientUpdate>;
}

/** Per-round client settings: fixed, or chosen per round and client. */
export type FitConfigOption = Partial<Omit<FitConfig, 'round' | 'seed'>> | ((round: number, clientId: string) => Partial<Omit<FitConfig, 'round' | 'seed'>>);

export interface ServerOptions {
  /** @default new FedAvg() */
  strategy?: FederatedStrategy;
  /** Fraction of the available clients sampled each round (the Poisson rate q under DP). @default 1 */
  fractionFit?: number;
  /** Sample at least this many (capped at the available count; ignored under DP's Poisson sampling). @default 2 */
  minFitClients?: number;
  /** Accepted updates a round needs to be aggregated; with fewer, the global model stays as it was. @default 2 */
  minClients?: number;
  /** Seeds client sampling and the per-client seeds in FitConfig. @default 0 */
  seed?: number;
  /** Local training settings sent to clients ({@link FIT_DEFAULTS} for what is not given). */
  fitConfig?: FitConfigOption;
  /** Update checks (norm bound, example-count bound). */
  validation?: ValidationOptions;
  /** Client-level differential privacy (clipping + Gaussian noise, Poisson sampling, RDP accounting). */
  dp?: DpOptions;
  /** Runs after every round on the new global weights (e.g. a held-out set on the server). */
  evaluate?: (weights: Weights, round: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Where log lines go. @default a line on stderr */
  log?: (line: string) => void;
  /** Limits for decoding serialised updates. */
  decode?: WireDecodeOptions;
}

/** A round as planned: who trains, with what. */
export interface RoundPlan {
  round: number;
  clients: string[];
  configs: Map<string, FitConfig>;
}

/** Checks what a serialised update says about itself (a transport's nonce and model binding); null when it passes. */
export type UpdateVerifier = (about: Required<UpdateAbout>) => { reason: RejectReason; message: string } | null;

/** The answer to one submitted update. */
export type SubmitResult = { accepted: true; norm: number } | { accepted: false; reason: RejectReason; message: string };

/** What happened in a round. */
export interface RoundRecord {
  round: number;
  /** 'aggregated', or 'skipped' when fewer than minClients updates were accepted. */
  status: 'aggregated' | 'skipped';
  sampled: string[];
  accepted: { clientId: string; numExamples: number; norm: number; metrics?: Record<string, number> }[];
  rejected: { clientId: string; reason: RejectReason; message: string }[];
  /** Sampled clients that sent nothing (crashed, disconnected, past the deadline). */
  dropped: string[];
  /** Clients whose fit failed with an error (simulation) or that reported one. */
  failed: { clientId: string; message: string }[];
  numExamples: number;
  /** L2 norm of the change of the global model. */
  globalUpdateNorm: number;
  /** The evaluate() result. */
  metrics?: Record<string, number>;
  /** Privacy spent so far (DP only). */
  privacy?: { epsilon: number; delta: number };
  seconds: number;
}

interface OpenRound {
  plan: RoundPlan;
  sampledSet: Set<string>;
  results: Map<string, ClientResult & { norm: number }>;
  rejected: RoundRecord['rejected'];
  failed: RoundRecord['failed'];
  denominator: number;
  startedAt: number;
  closing: boolean;
}

const defaultLog = (line: string) => { process.stderr.write(`[federated] ${line}\n`); };

/**
 * The server state machine: beginRound -> submit (per client) -> endRound.
 * @example
 * const server = new FederatedServer(fromModel(model), { strategy: new FedAvg(), minClients: 3 });
 * const history = await runSimulation(server, clients, { rounds: 10 });
 */
export class FederatedServer {
  readonly strategy: FederatedStrategy;
  readonly history: RoundRecord[] = [];
  readonly accountant?: RdpAccountant;
  readonly options: Readonly<Required<Pick<ServerOptions, 'fractionFit' | 'minFitClients' | 'minClients' | 'seed'>>>;
  #global: Weights;
  #round = 0;
  #open: OpenRound | null = null;
  #o: ServerOptions;
  #dp?: ReturnType<typeof checkDpOptions>;
  #normal?: () => number;
  #log: (line: string) => void;

  constructor(initial: Weights, o: ServerOptions = {}) {
    checkWeights(initial, 'initial');
    if (o === null || typeof o !== 'object') invalidType('an options object', 'options', o);
    const fractionFit = o.fractionFit ?? 1;
    if (!(fractionFit > 0 && fractionFit <= 1)) invalidRange('a number in (0, 1]', 'fractionFit', o.fractionFit);
    const int = (v: number | undefined, name: string, d: number, min: number) => {
      const x = v ?? d;
      if (!Number.isInteger(x) || x < min) invalidRange(`an integer >= ${min}`, name, v);
      return x;
    };
    this.options = {
      fractionFit,
      minFitClients: int(o.minFitClients, 'minFitClients', 2, 1),
      minClients: int(o.minClients, 'minClients', 2, 1),
      seed: int(o.seed, 'seed', 0, 0),
    };
    this.strategy = o.strategy ?? new FedAvg();
    this.#global = cloneWeights(initial);
    this.#o = o;
    this.#log = o.log ?? defaultLog;
    if (o.dp) {
      if (!this.strategy.meanBased) throw new TypeError(`Expected a mean-based strategy for dp but received ${this.strategy.name} (its sensitivity is not S / qN)`);
      this.#dp = checkDpOptions(o.dp);
      this.accountant = new RdpAccountant();
      this.#normal = gaussianSource(uniformSource(this.#dp.seed));
    }
  }

  /** The current global weights (do not modify; clone to keep). */
  get global(): Weights { return this.#global; }
  /** The last round begun (0 before the first). */
  get round(): number { return this.#round; }
  /** The open round's plan, or null. */
  get openRound(): RoundPlan | null { return this.#open?.plan ?? null; }

  /** (ε, δ) spent so far, or undefined without DP. */
  privacy(): { epsilon: number; delta: number } | undefined {
    if (!this.accountant || !this.#dp) return undefined;
    const { epsilon, delta } = this.accountant.getEpsilon(this.#dp.delta);
    return { epsilon, delta };
  }

  /**
   * Starts the next round: samples from `available` (seeded by seed and round)
   * and makes each sampled client's FitConfig.
   * @throws {Error} if a round is already open.
   */
  beginRound(available: readonly string[]): RoundPlan {
    if (this.#open) throw new Error(`round ${this.#open.plan.round} is still open`);
    const round = ++this.#round;
    const ids = [...new Set(available)].sort();
    const rand = mulberry32(mixSeed(this.options.seed, round));
    let clients: string[];
    let denominator = 0;
    if (this.#dp) {
      // Poisson sampling: each client independently with probability q, as the accountant assumes.
      clients = ids.filter(() => rand() < this.options.fractionFit);
      denominator = this.options.fractionFit * ids.length;
      this.accountant!.step(this.options.fractionFit, this.#dp.noiseMultiplier);
    } else {
      const k = Math.min(ids.length, Math.max(this.options.minFitClients, Math.ceil(this.options.fractionFit * ids.length)));
      const order = permutation(ids.length, rand);
      clients = Array.from(order.subarray(0, k), (i) => ids[i]).sort();
    }
    const configs = new Map<string, FitConfig>();
    for (const id of clients) configs.set(id, this.#config(round, id));
    const plan = { round, clients, configs };
    this.#open = { plan, sampledSet: new Set(clients), results: new Map(), rejected: [], failed: [], denominator, startedAt: performance.now(), closing: false };
    this.#log(`round ${round}: sampled ${clients.length} of ${ids.length} clients (${clients.join(', ')})`);
    return plan;
  }

  #config(round: number, clientId: string): FitConfig {
    const fc = this.#o.fitConfig;
    const chosen = typeof fc === 'function' ? fc(round, clientId) : fc ?? {};
    const seed = mixSeed(this.options.seed, round, ...Buffer.from(clientId));
    return { ...FIT_DEFAULTS, ...chosen, ...this.strategy.configureFit(round), round, seed };
  }

  /**
   * Offers one client's update (as data, or as serialised bytes). It is
   * checked and either kept for this round or rejected with a logged reason.
   * `verify` (bytes only) checks the update's own metadata first: a transport
   * uses it to refuse replayed, stale or substituted updates.
   * Never throws for a bad update.
   */
  submit(round: number, clientId: string, update: ClientUpdate | Uint8Array, o: { verify?: UpdateVerifier } = {}): SubmitResult {
    const open = this.#open;
    const reject = (reason: RejectReason, message: string) => this.reject(round, clientId, reason, message);
    if (!open || open.plan.round !== round) return reject('round', `round ${round} is not open (open: ${open?.plan.round ?? 'none'})`);
    if (open.closing) return reject('late', `round ${round} has closed`);
    if (!open.sampledSet.has(clientId)) return reject('client', `${clientId} was not sampled for round ${round}`);
    if (open.results.has(clientId) || open.rejected.some((r) => r.clientId === clientId)) return reject('duplicate', `${clientId} already sent an update for round ${round}`);
    let u: ClientUpdate;
    if (update instanceof Uint8Array) {
      try {
        const d = decodeUpdate(update, this.#o.decode);
        const refused = o.verify?.(d);
        if (refused) return reject(refused.reason, refused.message);
        if (d.round !== round) return reject('round', `update is for round ${d.round}, not ${round}`);
        u = d.update;
      } catch (e) {
        const err = e as { reason?: RejectReason; message: string };
        return reject(err.reason ?? 'decode', err.message);
      }
    } else {
      u = update;
      if (!u || typeof u !== 'object') return reject('decode', 'update is not an object');
    }
    const v = validateUpdate(u.delta, this.#global, u.numExamples, this.#o.validation);
    if (!v.ok) return reject(v.reason, v.message);
    open.results.set(clientId, { clientId, delta: u.delta, numExamples: u.numExamples, metrics: u.metrics, norm: v.norm });
    return { accepted: true, norm: v.norm };
  }

  /** Refuses a client's update for `reason` (logged; counted in the round's record when the round is open). */
  reject(round: number, clientId: string, reason: RejectReason, message: string): SubmitResult {
    const open = this.#open;
    if (open && open.plan.round === round && !open.closing && open.sampledSet.has(clientId) && !open.rejected.some((r) => r.clientId === clientId) && !open.results.has(clientId))
      open.rejected.push({ clientId, reason, message });
    this.#log(`round ${round}: rejected the update of ${clientId}: ${reason}: ${message}`);
    return { accepted: false, reason, message };
  }

  /** Records that a sampled client failed (its fit threw, or it said so). */
  reportFailure(round: number, clientId: string, message: string): void {
    const open = this.#open;
    if (open && open.plan.round === round && open.sampledSet.has(clientId)) open.failed.push({ clientId, message });
    this.#log(`round ${round}: ${clientId} failed: ${message}`);
  }

  /** Whether every sampled client has answered (update, rejection or failure). */
  get allAnswered(): boolean {
    const o = this.#open;
    if (!o) return false;
    return o.plan.clients.every((id) => o.results.has(id) || o.rejected.some((r) => r.clientId === id) || o.failed.some((f) => f.clientId === id));
  }

  /**
   * Closes the open round: aggregates the accepted updates when there are at
   * least minClients of them (else leaves the model as it was), evaluates, and
   * records the round.
   */
  async endRound(): Promise<RoundRecord> {
    const open = this.#open;
    if (!open) throw new Error('no round is open');
    open.closing = true;
    const { round, clients } = open.plan;
    // Sorted by client id: the aggregate does not depend on the order updates arrived in.
    const results = [...open.results.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
    const answered = new Set([...open.results.keys(), ...open.rejected.map((r) => r.clientId), ...open.failed.map((f) => f.clientId)]);
    const dropped = clients.filter((c) => !answered.has(c));
    const before = this.#global;
    let status: RoundRecord['status'] = 'skipped';
    try {
      if (results.length >= this.options.minClients) {
        if (this.#dp) {
          const delta = noisyClippedMean(before, results.map((r) => r.delta), { ...this.#dp, denominator: Math.max(open.denominator, 1e-12) }, this.#normal!);
          this.#global = this.strategy.apply(before, delta, round);
        } else {
          this.#global = this.strategy.aggregate(before, results, round);
        }
        status = 'aggregated';
      }
    } finally {
      this.#open = null;
    }
    const record: RoundRecord = {
      round, status, sampled: clients,
      accepted: results.map((r) => ({ clientId: r.clientId, numExamples: r.numExamples, norm: r.norm, ...(r.metrics ? { metrics: r.metrics } : {}) })),
      rejected: open.rejected, dropped, failed: open.failed,
      numExamples: results.reduce((a, r) => a + r.numExamples, 0),
      globalUpdateNorm: status === 'aggregated' ? l2Norm(subtract(this.#global, before)) : 0,
      seconds: (performance.now() - open.startedAt) / 1000,
    };
    if (this.#o.evaluate) record.metrics = await this.#o.evaluate(this.#global, round);
    const privacy = this.privacy();
    if (privacy) record.privacy = privacy;
    this.history.push(record);
    const m = record.metrics ? ' ' + Object.entries(record.metrics).map(([k, v]) => `${k}=${v.toFixed(4)}`).join(' ') : '';
    this.#log(`round ${round}: ${status} ${results.length} updates (${record.numExamples} examples)` +
      `${record.rejected.length ? `, ${record.rejected.length} rejected` : ''}${dropped.length ? `, ${dropped.length} dropped (${dropped.join(', ')})` : ''}` +
      `${record.failed.length ? `, ${record.failed.length} failed` : ''}${status === 'skipped' ? ` (fewer than minClients=${this.options.minClients}; model unchanged)` : ''}` +
      `${m}${privacy ? ` epsilon=${privacy.epsilon.toFixed(3)} (delta=${privacy.delta})` : ''}`);
    return record;
  }
}
