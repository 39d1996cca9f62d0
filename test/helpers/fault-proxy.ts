/**
 * A fault-injecting HTTP proxy on 127.0.0.1 (ephemeral port) in front of a FHIR server, for reliability tests.
 *
 * On a seeded-random share of requests it injects one fault instead of (or after) forwarding:
 * - `throttled` 429 with `Retry-After`, `server-error` 500, `unavailable` 503 — not forwarded;
 * - `hang` — not forwarded, never answered: the client's own timeout fires;
 * - `hang-after-apply` — forwarded and applied upstream, then never answered;
 * - `reset-mid-request` — the socket is destroyed as the request arrives, before its body is read (not applied);
 * - `reset-after-apply` — forwarded and applied upstream, then the socket is destroyed instead of answering (the
 *   nastiest case: the write happened, the client saw an error);
 * - `conflict` — PUT only, not forwarded: 412 when the request has `If-Match`, else 409 (a concurrent create).
 *
 * In batch Bundles it also fails single entries (`entry-throttled` 429, `entry-unavailable` 503, `entry-conflict`
 * 412/409 for PUT entries): those entries are taken out of the Bundle that is forwarded, and their responses are
 * spliced back in, as a server does that throttles or rejects individual entries.
 *
 * Decisions come from a seeded PRNG, so a run is reproducible in its fault mix; under concurrency which request meets
 * which fault depends on arrival order. Upstream URLs in response bodies and headers are rewritten to the proxy's, so
 * paging links stay on the proxy. {@link stats} counts everything. Always {@link close} it.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Bundle, BundleEntry, OperationOutcome } from '@medplum/fhirtypes';

/** A request-level fault. */
export type RequestFault =
  | 'throttled'
  | 'server-error'
  | 'unavailable'
  | 'hang'
  | 'hang-after-apply'
  | 'reset-mid-request'
  | 'reset-after-apply'
  | 'conflict';

/** A fault of one entry of a batch Bundle. */
export type EntryFault = 'entry-throttled' | 'entry-unavailable' | 'entry-conflict';

/** Every request-level fault. */
export const REQUEST_FAULTS: readonly RequestFault[] = [
  'throttled',
  'server-error',
  'unavailable',
  'hang',
  'hang-after-apply',
  'reset-mid-request',
  'reset-after-apply',
  'conflict',
];

/** Every entry fault. */
export const ENTRY_FAULTS: readonly EntryFault[] = ['entry-throttled', 'entry-unavailable', 'entry-conflict'];

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** The upstream FHIR base, e.g. `http://127.0.0.1:1234/fhir`; the proxy serves the same path. */
  readonly target: string;
  /** PRNG seed. */
  readonly seed: number;
  /** Share of requests that get a request-level fault, 0–1. */
  readonly rate: number;
  /** Share of the entries of a forwarded batch Bundle that get an entry fault, 0–1. Default: `rate`. */
  readonly entryRate?: number;
  /** Faults to choose from (uniformly, among those that apply to the request). Default: all. */
  readonly faults?: readonly RequestFault[];
  /** The `Retry-After` of 429s, in seconds. Default 1. */
  readonly retryAfterSeconds?: number;
}

/** What the proxy did. */
export interface FaultStats {
  /** Requests received. */
  requests: number;
  /** Requests that met a request-level fault or at least one entry fault. */
  faultedRequests: number;
  /** Request-level faults by kind. */
  readonly byFault: Record<RequestFault, number>;
  /** Entry faults by kind. */
  readonly byEntryFault: Record<EntryFault, number>;
  /** Batch Bundle entries forwarded or failed. */
  entries: number;
  /** Faults injected after the upstream had answered a write with 2xx: applied, but the client saw an error. */
  appliedButLost: number;
}

interface Forwarded {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const PASS_HEADERS = ['content-type', 'etag', 'location', 'last-modified', 'retry-after', 'x-ms-retry-after-ms'];

/** mulberry32: a small, fast, seedable PRNG with a full 2^32 period. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function outcome(code: OperationOutcome['issue'][number]['code'], text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

const STATUS_TEXT: Record<number, string> = {
  409: '409 Conflict',
  412: '412 Precondition Failed',
  429: '429 Too Many Requests',
  503: '503 Service Unavailable',
};

/** The proxy. */
export class FaultProxy {
  /** The proxy's FHIR base URL. */
  readonly url: string;
  readonly stats: FaultStats;
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();
  readonly #target: URL;
  readonly #options: FaultProxyOptions;
  readonly #random: () => number;
  #rate: number;
  #entryRate: number;

  private constructor(server: http.Server, options: FaultProxyOptions) {
    this.#server = server;
    this.#options = options;
    this.#target = new URL(options.target);
    this.#random = seededRandom(options.seed);
    this.#rate = options.rate;
    this.#entryRate = options.entryRate ?? options.rate;
    const port = (server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}${this.#target.pathname.replace(/\/+$/, '')}`;
    this.stats = {
      requests: 0,
      faultedRequests: 0,
      byFault: Object.fromEntries(REQUEST_FAULTS.map((f) => [f, 0])) as Record<RequestFault, number>,
      byEntryFault: Object.fromEntries(ENTRY_FAULTS.map((f) => [f, 0])) as Record<EntryFault, number>,
      entries: 0,
      appliedButLost: 0,
    };
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.#handle(req, res).catch(() => {
        req.socket.destroy();
      });
    });
    server.on('connection', (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => {
        this.#sockets.delete(socket);
      });
    });
  }

  /**
   * Starts a proxy on an ephemeral loopback port.
   * @param options - upstream, seed and fault rates
   */
  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new FaultProxy(server, options);
  }

  /**
   * Changes the fault rates (e.g. 0 to let a final verification through untouched).
   * @param rate - request-level rate
   * @param entryRate - entry rate, default `rate`
   */
  setRates(rate: number, entryRate = rate): void {
    this.#rate = rate;
    this.#entryRate = entryRate;
  }

  /** Stops the proxy and destroys every open connection (hung requests included). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      this.#server.close(() => {
        resolve();
      });
    });
    for (const socket of this.#sockets) {
      socket.destroy();
    }
    await closed;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.stats.requests++;
    const method = req.method ?? 'GET';
    const fault = this.#pickFault(method);
    if (fault !== undefined) {
      this.stats.faultedRequests++;
      this.stats.byFault[fault]++;
    }
    if (fault === 'reset-mid-request') {
      // Before the body is read: the client is still sending, or waiting for an answer that never comes.
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    switch (fault) {
      case 'throttled':
        this.#reply(res, 429, outcome('throttled', 'Too many requests (injected)'), {
          'retry-after': String(this.#options.retryAfterSeconds ?? 1),
        });
        return;
      case 'server-error':
        this.#reply(res, 500, outcome('exception', 'Internal server error (injected)'));
        return;
      case 'unavailable':
        this.#reply(res, 503, outcome('transient', 'Service unavailable (injected)'));
        return;
      case 'conflict':
        if (req.headers['if-match'] === undefined) {
          this.#reply(res, 409, outcome('conflict', 'Conflict (injected)'));
        } else {
          this.#reply(res, 412, outcome('conflict', 'Precondition failed (injected)'));
        }
        return;
      case 'hang':
        return; // never answered; the client gives up, or close() destroys the socket
      case 'hang-after-apply':
      case 'reset-after-apply': {
        const forwarded = await this.#forward(req, body);
        if (method !== 'GET' && forwarded.status >= 200 && forwarded.status < 300) {
          this.stats.appliedButLost++;
        }
        if (fault === 'reset-after-apply') {
          req.socket.destroy();
        }
        return;
      }
      case undefined:
        break;
    }
    const isBatch = method === 'POST' && new URL(req.url ?? '/', 'http://x').pathname === this.#target.pathname;
    const forwarded = isBatch ? await this.#forwardBatch(req, body) : await this.#forward(req, body);
    res.writeHead(forwarded.status, forwarded.headers);
    res.end(forwarded.body);
  }

  #pickFault(method: string): RequestFault | undefined {
    if (this.#random() >= this.#rate) {
      return undefined;
    }
    const candidates = (this.#options.faults ?? REQUEST_FAULTS).filter((f) => f !== 'conflict' || method === 'PUT');
    return candidates[Math.floor(this.#random() * candidates.length)];
  }

  #reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/fhir+json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
      ...headers,
    });
    res.end(text);
  }

  async #forward(req: http.IncomingMessage, body: Buffer, replaceBody?: string): Promise<Forwarded> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (
        value !== undefined &&
        !['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive'].includes(name)
      ) {
        headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
    }
    const method = req.method ?? 'GET';
    const response = await fetch(`${this.#target.origin}${req.url ?? '/'}`, {
      method,
      headers,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: replaceBody ?? body }),
    });
    const text = this.#rewrite(await response.text());
    const out: Record<string, string> = {};
    for (const name of PASS_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) {
        out[name] = this.#rewrite(value);
      }
    }
    out['content-length'] = String(Buffer.byteLength(text));
    return { status: response.status, headers: out, body: text };
  }

  /** Forwards a batch Bundle without the entries picked to fail, and splices their failures into the response. */
  async #forwardBatch(req: http.IncomingMessage, body: Buffer): Promise<Forwarded> {
    let bundle: Bundle;
    try {
      bundle = JSON.parse(body.toString('utf8')) as Bundle;
    } catch {
      return this.#forward(req, body);
    }
    const entries = bundle.entry ?? [];
    if ((bundle.resourceType as string) !== 'Bundle' || bundle.type !== 'batch' || entries.length === 0) {
      return this.#forward(req, body);
    }
    this.stats.entries += entries.length;
    const faults = entries.map((entry) => this.#pickEntryFault(entry));
    const kept = entries.filter((_, i) => faults[i] === undefined);
    if (faults.some((f) => f !== undefined)) {
      this.stats.faultedRequests++;
    }
    let upstream: BundleEntry[] = [];
    let forwarded: Forwarded | undefined;
    if (kept.length > 0) {
      forwarded = await this.#forward(req, body, JSON.stringify({ ...bundle, entry: kept }));
      if (forwarded.status !== 200) {
        return forwarded;
      }
      upstream = (JSON.parse(forwarded.body) as Bundle).entry ?? [];
    }
    let next = 0;
    const merged: BundleEntry[] = entries.map((entry, i) => {
      const fault = faults[i];
      return fault === undefined ? (upstream[next++] ?? {}) : entryFailure(fault, entry);
    });
    const text = JSON.stringify({ resourceType: 'Bundle', type: 'batch-response', entry: merged });
    const headers: Record<string, string> = {
      'content-type': 'application/fhir+json; charset=utf-8',
      'content-length': String(Buffer.byteLength(text)),
    };
    if (faults.includes('entry-throttled')) {
      headers['retry-after'] = String(this.#options.retryAfterSeconds ?? 1);
    }
    return { status: 200, headers, body: text };
  }

  #pickEntryFault(entry: BundleEntry): EntryFault | undefined {
    if (this.#random() >= this.#entryRate) {
      return undefined;
    }
    const candidates = ENTRY_FAULTS.filter((f) => f !== 'entry-conflict' || entry.request?.method === 'PUT');
    const fault = candidates[Math.floor(this.#random() * candidates.length)];
    if (fault !== undefined) {
      this.stats.byEntryFault[fault]++;
    }
    return fault;
  }

  #rewrite(text: string): string {
    return text.split(this.#target.origin).join(new URL(this.url).origin);
  }
}

function entryFailure(fault: EntryFault, entry: BundleEntry): BundleEntry {
  const status =
    fault === 'entry-throttled' ? 429 : fault === 'entry-unavailable' ? 503 : entry.request?.ifMatch ? 412 : 409;
  const code = status === 429 ? 'throttled' : status === 503 ? 'transient' : 'conflict';
  return { response: { status: STATUS_TEXT[status] ?? String(status), outcome: outcome(code, `${fault} (injected)`) } };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}
