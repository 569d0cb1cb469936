/**
 * In-process simulation: N clients in one process, one FederatedServer. Each
 * round the sampled clients train one after another (deterministic; the
 * native step already uses the cores) and their updates go through the same
 * wire format and checks as over HTTP (serialize: true), so what passes here
 * passes there. A client whose fit throws is recorded as failed; the round
 * goes on with the others.
 */
import { invalidRange, invalidType } from '../errors.js';
import { encodeUpdate } from './codec.js';
import type { FederatedClient, FederatedServer, RoundRecord } from './server.js';
import { cloneWeights } from './weights.js';

export interface SimulationOptions {
  /** Rounds to run. */
  rounds: number;
  /** Send updates as serialised bytes, as a real transport does. @default true */
  serialize?: boolean;
  /** Called after every round. */
  onRound?: (record: RoundRecord) => void | Promise<void>;
}

/**
 * Runs `rounds` rounds over in-process clients and returns the server's history.
 * @example
 * const server = new FederatedServer(fromModel(global), { strategy: new FedAvg(), seed: 1 });
 * await runSimulation(server, { a: clientA, b: clientB, c: clientC }, { rounds: 5 });
 */
export async function runSimulation(
  server: FederatedServer,
  clients: Record<string, FederatedClient> | Map<string, FederatedClient>,
  o: SimulationOptions,
): Promise<RoundRecord[]> {
  const map = clients instanceof Map ? clients : new Map(Object.entries(clients));
  if (map.size === 0) invalidType('at least one client', 'clients', clients);
  if (!Number.isInteger(o?.rounds) || o.rounds < 1) invalidRange('a positive integer', 'rounds', o?.rounds);
  const serialize = o.serialize ?? true;
  for (let r = 0; r < o.rounds; r++) {
    const plan = server.beginRound([...map.keys()]);
    for (const id of plan.clients) {
      const config = plan.configs.get(id)!;
      try {
        // Each client gets its own copy: nothing it does can touch the server's weights.
        const update = await map.get(id)!.fit(cloneWeights(server.global), config);
        server.submit(plan.round, id, serialize ? encodeUpdate(update, { round: plan.round, clientId: id }) : update);
      } catch (e) {
        server.reportFailure(plan.round, id, (e as Error)?.message ?? String(e));
      }
    }
    const rec = await server.endRound();
    await o.onRound?.(rec);
  }
  return server.history;
}
