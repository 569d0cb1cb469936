/**
 * A classification service on node:http with bertorch's micro-batching
 * predictor: concurrent requests share forward passes, and the event loop
 * stays free while they run (tokenizing on the libuv pool, the forward pass on
 * a worker thread).
 *
 *   POST /classify  {"text": "..."}        -> {"prediction": {...}}
 *   POST /classify  {"texts": ["...", ...]} -> {"predictions": [{...}, ...]}
 *   GET  /health                            -> {"status": "ok", "task", "labels"}
 *   GET  /stats                             -> the predictor's counters (forward passes, batch sizes)
 *
 * Run: npx tsx examples/http-service/server.ts --model <HF folder> [--port 8080] [--host 127.0.0.1]
 *      [--max-batch-size 32] [--max-wait-ms 5] [--max-in-flight 2] [--max-length 128] [--device cpu|cuda]
 * With --port 0 the OS picks a free port; the first stdout line is {"listening": "<url>"} either way.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createPredictor, type Predictor, type PredictorOptions } from '../../lib/serve/index.js';

export interface ServiceOptions {
  /** Largest request body. @default 1 MiB */
  maxBodyBytes?: number;
  /** Most texts in one request. @default 256 */
  maxTexts?: number;
}

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

async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
}

async function classify(predictor: Predictor, body: unknown, maxTexts: number): Promise<unknown> {
  const o = body as { text?: unknown; texts?: unknown } | null;
  if (o !== null && typeof o === 'object' && typeof o.text === 'string') return { prediction: await predictor.predict(o.text) };
  if (o !== null && typeof o === 'object' && Array.isArray(o.texts) && o.texts.every((t) => typeof t === 'string')) {
    if (o.texts.length > maxTexts) throw new HttpError(413, `over ${maxTexts} texts in one request`);
    return { predictions: await predictor.predict(o.texts as string[]) };
  }
  throw new HttpError(400, 'expected {"text": string} or {"texts": string[]}');
}

/** An http.Server answering /classify, /health and /stats with `predictor` (not listening yet). */
export function createService(predictor: Predictor, options: ServiceOptions = {}): http.Server {
  const maxBody = options.maxBodyBytes ?? 1 << 20;
  const maxTexts = options.maxTexts ?? 256;
  return http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const route = `${req.method} ${url.pathname}`;
      if (route === 'POST /classify') {
        if (predictor.closed) throw new HttpError(503, 'shutting down');
        send(res, 200, await classify(predictor, await readJson(req, maxBody), maxTexts));
      } else if (route === 'GET /health') {
        send(res, predictor.closed ? 503 : 200, { status: predictor.closed ? 'closing' : 'ok', task: predictor.task, labels: predictor.labels });
      } else if (route === 'GET /stats') {
        send(res, 200, predictor.stats());
      } else if (['/classify', '/health', '/stats'].includes(url.pathname)) {
        throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`);
      } else {
        throw new HttpError(404, `no route ${url.pathname}`);
      }
    } catch (e) {
      const status = e instanceof HttpError ? e.status : (e as { code?: string }).code === 'ERR_CLOSED' ? 503 : 500;
      if (!res.headersSent) send(res, status, { error: (e as Error).message });
      else res.destroy();
    }
  });
}

export interface StartOptions extends PredictorOptions, ServiceOptions {
  /** HF model folder with tokenizer files. */
  model: string;
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 8080 */
  port?: number;
}

/** Loads the model and listens; close() stops taking connections, answers what was asked, and frees the model. */
export async function startService(o: StartOptions): Promise<{ url: string; server: http.Server; predictor: Predictor; close(): Promise<void> }> {
  const { model, host = '127.0.0.1', port = 8080, maxBodyBytes, maxTexts, ...predictorOptions } = o;
  const predictor = await createPredictor(model, predictorOptions);
  const server = createService(predictor, { maxBodyBytes, maxTexts });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await predictor.close();
    await closed;
  };
  return { url, server, predictor, close };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '8080' },
      'max-batch-size': { type: 'string' }, 'max-wait-ms': { type: 'string' }, 'max-length': { type: 'string' }, 'max-in-flight': { type: 'string' },
      device: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.model) {
    console.log('Usage: npx tsx examples/http-service/server.ts --model <HF folder> [--port 8080] [--host 127.0.0.1]\n' +
      '       [--max-batch-size 32] [--max-wait-ms 5] [--max-in-flight 2] [--max-length 128] [--device cpu|cuda]');
    process.exit(values.help ? 0 : 2);
  }
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const service = await startService({
    model: values.model, host: values.host, port: num(values.port),
    maxBatchSize: num(values['max-batch-size']), maxWaitMs: num(values['max-wait-ms']), maxLength: num(values['max-length']), maxInFlight: num(values['max-in-flight']),
    device: values.device as PredictorOptions['device'],
  });
  console.log(JSON.stringify({ listening: service.url, task: service.predictor.task, labels: service.predictor.labels }));
  const stop = () => {
    console.error('shutting down: answering requests in flight');
    service.close().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
