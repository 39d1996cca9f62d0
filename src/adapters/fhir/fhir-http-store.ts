/**
 * The FHIR store over HTTP: implements the core's {@link FhirStore} port against a FHIR R4 server (Azure Health Data
 * Services, HAPI, the embedded local server) with global `fetch`.
 *
 * - Every request carries `Accept`/`Content-Type: application/fhir+json` and, when configured, an Entra ID token.
 * - At most `maxConcurrency` requests are in flight; each has its own timeout and is retried when transient
 *   (see retry.ts). A 401 refreshes the token once.
 * - Many searches or writes go out as `batch` Bundles of at most 500 entries (one round trip instead of 500; Azure
 *   Health Data Services' default bundle limit). Entries that come back throttled or unavailable are resent; if the
 *   server does not do batches, the store falls back to single requests for good.
 * - Errors are {@link PipelineError}s from the one status mapping in the core's outcome.ts. No resource content is
 *   ever put into an error message or the `onRequest` event.
 *
 * See: https://hl7.org/fhir/R4/http.html
 */
import type { Bundle, BundleEntry, Identifier, Resource, ResourceType } from '@medplum/fhirtypes';
import { ErrorCode, PipelineError, toPipelineError } from '../../pipeline';
import { errorFromFhirResponse, outcomeFromResponse } from '../../pipeline';
import type {
  FhirResult,
  FhirStore,
  IdentifierQuery,
  PutOptions,
  PutRequest,
  PutResult,
  ResourceOf,
} from '../../pipeline';
import type { TokenCredential } from '@azure/identity';
import type { FhirAuth, TokenProvider } from './auth';
import { createTokenProvider } from './auth';
import { mapWithConcurrency, Semaphore } from './concurrency';
import type { RetryEnvironment, RetryPolicy } from './retry';
import {
  defaultRetryPolicy,
  isRetryableStatus,
  retryAfterMs,
  runWithRetry,
  systemRetryEnvironment,
  transportError,
} from './retry';

/** The FHIR interaction a request performs (a metric dimension). */
export type FhirInteraction = 'read' | 'vread' | 'search' | 'update' | 'batch';

/** What the store reports about every HTTP exchange; no resource content, no identifiers, no URLs. */
export interface FhirRequestEvent {
  readonly interaction: FhirInteraction;
  readonly method: 'GET' | 'PUT' | 'POST';
  /** The resource type (`Bundle` for batches). */
  readonly resourceType?: string;
  /** The HTTP status, or 0 when no response arrived (timeout, connection failure). */
  readonly status: number;
  readonly durationMs: number;
  /** 1 for the first try, counting up with each retry; the repeat after a token refresh keeps the number. */
  readonly attempt: number;
  /** Entries in a batch. */
  readonly entries?: number;
}

/** Options of {@link FhirHttpStore}. */
export interface FhirHttpStoreOptions {
  /** The service base, e.g. `https://ws-fhir.fhir.azurehealthcareapis.com`. A trailing slash is ignored. */
  readonly baseUrl: string;
  /** Default `{ mode: 'none' }`. */
  readonly auth?: FhirAuth;
  /** A token provider to use instead of building one from `auth`. */
  readonly tokenProvider?: TokenProvider;
  /** A credential to use instead of the one `auth` names (tests inject a fake). */
  readonly credential?: TokenCredential;
  /** Requests in flight at most. Default 16. */
  readonly maxConcurrency?: number;
  /** Per-request timeout (headers and body). Default 30 s. */
  readonly requestTimeoutMs?: number;
  /** Timeout of a batch Bundle, whose entries the server may process one after another. Default 120 s. */
  readonly batchTimeoutMs?: number;
  /** Retry limits; missing members take {@link defaultRetryPolicy}'s. */
  readonly retry?: Partial<RetryPolicy>;
  /** Sleep, randomness and clock for retries (tests inject them). */
  readonly environment?: Partial<RetryEnvironment>;
  /** Entries per batch Bundle, 1–500. Default 500. */
  readonly batchSize?: number;
  /** Send batches at all. Default true. */
  readonly useBatch?: boolean;
  /** Called after every HTTP exchange, e.g. to record dependency metrics. Exceptions it throws are ignored. */
  readonly onRequest?: (event: FhirRequestEvent) => void;
  /** Keep OperationOutcome diagnostics in errors. Only for debugging against test data: they may echo content. */
  readonly includeDiagnostics?: boolean;
}

/** The most entries per batch Bundle. */
export const MAX_BATCH_SIZE = 500;

const FHIR_JSON = 'application/fhir+json';

/** Statuses with which a server says it does not do `POST [base]` batches. */
const BATCH_UNSUPPORTED: ReadonlySet<number> = new Set([404, 405, 501]);

type Method = FhirRequestEvent['method'];

interface RequestSpec {
  readonly interaction: FhirInteraction;
  readonly method: Method;
  readonly url: string;
  readonly resourceType?: string;
  /** Serialized once; attempts reuse it. */
  readonly body?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly entries?: number;
}

interface Exchange {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, or undefined when empty. */
  readonly body: unknown;
  /** True when there was a body and it was not JSON. */
  readonly unreadable: boolean;
}

/** One entry of a batch, as the engine sees it: succeeded (2xx), failed, or left to single requests. */
type BatchEntryResult =
  | { readonly ok: true; readonly status: number; readonly entry: BundleEntry }
  | { readonly ok: false; readonly error: PipelineError }
  | undefined;

/** The FHIR store over HTTP. */
export class FhirHttpStore implements FhirStore {
  /** The normalized base URL, without a trailing slash. */
  readonly baseUrl: string;
  readonly #origin: string;
  readonly #tokens: TokenProvider;
  readonly #slots: Semaphore;
  readonly #timeoutMs: number;
  readonly #batchTimeoutMs: number;
  readonly #policy: RetryPolicy;
  readonly #env: RetryEnvironment;
  readonly #batchSize: number;
  readonly #onRequest: ((event: FhirRequestEvent) => void) | undefined;
  readonly #includeDiagnostics: boolean;
  /** False once the server refused a batch; single requests from then on. */
  #batchSupported: boolean;

  /** @param options - base URL, auth, limits and hooks */
  constructor(options: FhirHttpStoreOptions) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl);
    this.#origin = new URL(this.baseUrl).origin;
    this.#tokens =
      options.tokenProvider ??
      createTokenProvider(
        options.auth ?? { mode: 'none' },
        this.baseUrl,
        options.credential === undefined ? {} : { credential: options.credential },
      );
    this.#slots = new Semaphore(options.maxConcurrency ?? 16);
    this.#timeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#batchTimeoutMs = options.batchTimeoutMs ?? 120_000;
    this.#policy = { ...defaultRetryPolicy, ...options.retry };
    this.#env = { ...systemRetryEnvironment, ...options.environment };
    this.#batchSize = Math.max(1, Math.min(MAX_BATCH_SIZE, Math.floor(options.batchSize ?? MAX_BATCH_SIZE)));
    this.#onRequest = options.onRequest;
    this.#includeDiagnostics = options.includeDiagnostics === true;
    this.#batchSupported = options.useBatch ?? true;
  }

  /** False once the server has refused a batch Bundle (or batches were turned off). */
  get batchSupported(): boolean {
    return this.#batchSupported;
  }

  /**
   * Reads a resource; `undefined` when it does not exist or was deleted (404, 410).
   * @param resourceType - the type
   * @param id - the logical id
   */
  async read<K extends ResourceType>(resourceType: K, id: string): Promise<ResourceOf<K> | undefined> {
    const url = `${this.baseUrl}/${resourceType}/${encodeURIComponent(id)}`;
    return this.#readAt(resourceType, url, 'read');
  }

  /**
   * Reads one version of a resource; `undefined` when that version does not exist (404, 410).
   * @param resourceType - the type
   * @param id - the logical id
   * @param versionId - the version
   */
  async readVersion<K extends ResourceType>(
    resourceType: K,
    id: string,
    versionId: string,
  ): Promise<ResourceOf<K> | undefined> {
    const url = `${this.baseUrl}/${resourceType}/${encodeURIComponent(id)}/_history/${encodeURIComponent(versionId)}`;
    return this.#readAt(resourceType, url, 'vread');
  }

  /**
   * All resources of a type carrying an identifier, over all result pages. Only exact matches are returned
   * (servers may match on a prefix, medtech-reference §9.7).
   * @param resourceType - the type
   * @param identifier - `system` (omit to match any system, `''` for none) and `value`
   */
  async searchByIdentifier<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
  ): Promise<ResourceOf<K>[]> {
    const url = `${this.baseUrl}/${searchPath(resourceType, identifier)}`;
    return this.#searchPages(resourceType, identifier, url, []);
  }

  /**
   * Creates or updates a resource at its id (`PUT [type]/[id]`), optionally only if its version is still `ifMatch`.
   * When the server returns no body, the result is built from the ETag/Location/Last-Modified headers or read back.
   * @param resource - the resource, with an id
   * @param options - `ifMatch`: the expected current versionId
   */
  async put<T extends Resource>(resource: T, options: PutOptions = {}): Promise<PutResult<T>> {
    const id = requireId(resource);
    const headers: Record<string, string> = { prefer: 'return=representation' };
    if (options.ifMatch !== undefined) {
      headers['if-match'] = weakETag(options.ifMatch);
    }
    const exchange = await this.#request({
      interaction: 'update',
      method: 'PUT',
      url: `${this.baseUrl}/${resource.resourceType}/${encodeURIComponent(id)}`,
      resourceType: resource.resourceType,
      body: JSON.stringify(resource),
      headers,
    });
    if (!isSuccess(exchange.status)) {
      throw this.#error(exchange, 'PUT', resource.resourceType);
    }
    const saved = await this.#savedResource(resource, exchange.body, exchange.unreadable, {
      etag: exchange.headers.get('etag') ?? undefined,
      location: exchange.headers.get('location') ?? undefined,
      lastModified: exchange.headers.get('last-modified') ?? undefined,
    });
    return { resource: saved, created: exchange.status === 201 };
  }

  /**
   * Runs identifier searches, in batch Bundles where the server supports them. One result per query, in order.
   * @param queries - resource type and identifier of each search
   */
  async searchManyByIdentifier(queries: readonly IdentifierQuery[]): Promise<FhirResult<Resource[]>[]> {
    const single = (q: IdentifierQuery): Promise<FhirResult<Resource[]>> =>
      settle(() => this.searchByIdentifier(q.resourceType, q.identifier));
    const raw = await this.#batch(
      queries.map((q) => ({ request: { method: 'GET', url: searchPath(q.resourceType, q.identifier) } })),
    );
    return mapWithConcurrency(queries, this.#slots.limit, async (query, i) => {
      const result = raw?.[i];
      if (result === undefined) {
        return single(query);
      }
      if (!result.ok) {
        return result;
      }
      const bundle = result.entry.resource;
      if (!isBundle(bundle)) {
        return { ok: false, error: unexpectedBody('GET', query.resourceType) };
      }
      return settle(() => this.#collect(query.resourceType, query.identifier, bundle, []));
    });
  }

  /**
   * Writes resources with PUT (each optionally `If-Match`), in batch Bundles where the server supports them. One
   * result per request, in order; a failed entry does not fail the others.
   * @param requests - the resources (with ids) and their expected versions
   */
  async putMany(requests: readonly PutRequest[]): Promise<FhirResult<PutResult<Resource>>[]> {
    const single = (r: PutRequest): Promise<FhirResult<PutResult<Resource>>> =>
      settle(() => this.put(r.resource, r.ifMatch === undefined ? {} : { ifMatch: r.ifMatch }));
    const raw = await this.#batch(
      requests.map((r): BundleEntry => {
        const url = `${r.resource.resourceType}/${encodeURIComponent(requireId(r.resource))}`;
        return {
          resource: r.resource,
          request:
            r.ifMatch === undefined ? { method: 'PUT', url } : { method: 'PUT', url, ifMatch: weakETag(r.ifMatch) },
        };
      }),
    );
    return mapWithConcurrency(requests, this.#slots.limit, async (request, i) => {
      const result = raw?.[i];
      if (result === undefined) {
        return single(request);
      }
      if (!result.ok) {
        return result;
      }
      const response = result.entry.response;
      return settle(async () => ({
        resource: await this.#savedResource(request.resource, result.entry.resource, false, {
          etag: response?.etag,
          location: response?.location,
          lastModified: response?.lastModified,
        }),
        created: result.status === 201,
      }));
    });
  }

  // ---- reads and searches ------------------------------------------------------------------------------------------

  async #readAt<K extends ResourceType>(
    resourceType: K,
    url: string,
    interaction: 'read' | 'vread',
  ): Promise<ResourceOf<K> | undefined> {
    const exchange = await this.#request({ interaction, method: 'GET', url, resourceType });
    if (exchange.status === 404 || exchange.status === 410) {
      return undefined;
    }
    if (!isSuccess(exchange.status)) {
      throw this.#error(exchange, 'GET', resourceType);
    }
    if (!isResourceOf(exchange.body, resourceType)) {
      throw unexpectedBody('GET', resourceType);
    }
    return exchange.body;
  }

  async #searchPages<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
    url: string,
    into: ResourceOf<K>[],
  ): Promise<ResourceOf<K>[]> {
    const exchange = await this.#request({ interaction: 'search', method: 'GET', url, resourceType });
    if (!isSuccess(exchange.status)) {
      throw this.#error(exchange, 'GET', resourceType);
    }
    if (!isBundle(exchange.body)) {
      throw unexpectedBody('GET', resourceType);
    }
    return this.#collect(resourceType, identifier, exchange.body, into, new Set([url]));
  }

  /** Adds a searchset page's exact matches to `into` and follows its `next` link. */
  async #collect<K extends ResourceType>(
    resourceType: K,
    identifier: Pick<Identifier, 'system' | 'value'>,
    page: Bundle,
    into: ResourceOf<K>[],
    visited: Set<string> = new Set(),
  ): Promise<ResourceOf<K>[]> {
    let current = page;
    for (;;) {
      for (const entry of current.entry ?? []) {
        const mode = entry.search?.mode;
        if ((mode === undefined || mode === 'match') && isResourceOf(entry.resource, resourceType)) {
          if (hasIdentifier(entry.resource, identifier)) {
            into.push(entry.resource);
          }
        }
      }
      const next = current.link?.find((l) => l.relation === 'next')?.url;
      if (next === undefined) {
        return into;
      }
      const url = this.#pageUrl(next, resourceType);
      if (visited.has(url)) {
        // A server that links a page to itself would otherwise loop forever.
        throw new PipelineError(ErrorCode.FhirRequestFailed, `FHIR search ${resourceType} returned a paging loop`, {
          details: { method: 'GET', resourceType },
        });
      }
      visited.add(url);
      const exchange = await this.#request({ interaction: 'search', method: 'GET', url, resourceType });
      if (!isSuccess(exchange.status)) {
        throw this.#error(exchange, 'GET', resourceType);
      }
      if (!isBundle(exchange.body)) {
        throw unexpectedBody('GET', resourceType);
      }
      current = exchange.body;
    }
  }

  /** Resolves a `next` link; refuses links off the service so the token never leaves it. */
  #pageUrl(link: string, resourceType: string): string {
    const url = new URL(link, `${this.baseUrl}/`);
    if (url.origin !== this.#origin) {
      throw new PipelineError(
        ErrorCode.FhirRequestFailed,
        `FHIR search ${resourceType} returned a next link outside the FHIR service`,
        { details: { method: 'GET', resourceType } },
      );
    }
    return url.href;
  }

  // ---- writes ------------------------------------------------------------------------------------------------------

  /**
   * The resource as saved: the returned body when there is one, else the sent resource with the id and version the
   * headers name, else a read-back (servers honouring `Prefer: return=minimal`, or proxies dropping bodies).
   */
  async #savedResource<T extends Resource>(
    sent: T,
    body: unknown,
    unreadable: boolean,
    headers: { etag?: string | undefined; location?: string | undefined; lastModified?: string | undefined },
  ): Promise<T> {
    if (unreadable) {
      throw unexpectedBody('PUT', sent.resourceType);
    }
    if (isResourceOf(body, sent.resourceType)) {
      return body as T;
    }
    const versionId = versionFromETag(headers.etag) ?? versionFromLocation(headers.location);
    if (versionId !== undefined) {
      const meta = { ...sent.meta, versionId };
      const lastUpdated = headers.lastModified === undefined ? Number.NaN : Date.parse(headers.lastModified);
      if (!Number.isNaN(lastUpdated)) {
        meta.lastUpdated = new Date(lastUpdated).toISOString();
      }
      return { ...sent, meta };
    }
    const read = await this.read(sent.resourceType, requireId(sent));
    if (read === undefined) {
      throw new PipelineError(
        ErrorCode.FhirRequestFailed,
        `FHIR PUT ${sent.resourceType} succeeded but the resource cannot be read back`,
        { details: { method: 'PUT', resourceType: sent.resourceType } },
      );
    }
    return read as T;
  }

  // ---- batches -----------------------------------------------------------------------------------------------------

  /**
   * Sends `entries` as batch Bundles of at most {@link MAX_BATCH_SIZE}, concurrently. Returns one result per entry in
   * input order — `undefined` for entries to be done one by one — or `undefined` when batches are off or pointless.
   */
  async #batch(entries: readonly BundleEntry[]): Promise<BatchEntryResult[] | undefined> {
    if (!this.#batchSupported || entries.length <= 1) {
      return undefined;
    }
    const chunks: BundleEntry[][] = [];
    for (let start = 0; start < entries.length; start += this.#batchSize) {
      chunks.push(entries.slice(start, start + this.#batchSize));
    }
    const results = await Promise.all(chunks.map((chunk) => this.#batchChunk(chunk)));
    return results.flat();
  }

  /** One batch Bundle, resending the entries that come back throttled or unavailable. */
  async #batchChunk(entries: readonly BundleEntry[]): Promise<BatchEntryResult[]> {
    const results: BatchEntryResult[] = new Array<BatchEntryResult>(entries.length).fill(undefined);
    let pending = entries.map((_, i) => i);
    let final: Exchange | undefined;
    try {
      final = await runWithRetry<Exchange | undefined>(
        async (attempt) => {
          const exchange = await this.#send(this.#batchSpec(pending.map((i) => entries[i] as BundleEntry)), attempt);
          if (isRetryableStatus(exchange.status)) {
            return { retry: true, value: exchange, retryAfterMs: retryAfterMs(exchange.headers, this.#env.now()) };
          }
          if (!isSuccess(exchange.status)) {
            return { retry: false, value: exchange };
          }
          const again = this.#mapBatchResponse(exchange, entries, pending, results);
          pending = again.indices;
          return pending.length === 0
            ? { retry: false, value: undefined }
            : { retry: true, value: undefined, ...again.hint };
        },
        this.#policy,
        this.#env,
      );
    } catch (error) {
      const failure = toPipelineError(error, ErrorCode.FhirRequestFailed);
      for (const i of pending) {
        results[i] = { ok: false, error: failure };
      }
      return results;
    }
    if (final !== undefined) {
      if (BATCH_UNSUPPORTED.has(final.status) || isNotSupportedOutcome(final)) {
        this.#batchSupported = false;
        for (const i of pending) {
          results[i] = undefined;
        }
      } else {
        const error = this.#error(final, 'POST batch', 'Bundle');
        for (const i of pending) {
          results[i] = { ok: false, error };
        }
      }
    }
    return results;
  }

  #batchSpec(entries: readonly BundleEntry[]): RequestSpec {
    const bundle: Bundle = { resourceType: 'Bundle', type: 'batch', entry: [...entries] };
    return {
      interaction: 'batch',
      method: 'POST',
      url: this.baseUrl,
      resourceType: 'Bundle',
      body: JSON.stringify(bundle),
      headers: { prefer: 'return=representation' },
      entries: entries.length,
    };
  }

  /**
   * Stores the per-entry results of a batch-response (entries answer requests in order, FHIR R4 §3.1.0.11.2) and
   * returns the indices worth resending, with the longest wait any of them asked for.
   */
  #mapBatchResponse(
    exchange: Exchange,
    entries: readonly BundleEntry[],
    pending: readonly number[],
    results: BatchEntryResult[],
  ): { indices: number[]; hint: { retryAfterMs?: number } } {
    const body = exchange.body;
    const responses = isBundle(body) ? (body.entry ?? []) : undefined;
    if (responses?.length !== pending.length) {
      const error = unexpectedBody('POST batch', 'Bundle');
      for (const i of pending) {
        results[i] = { ok: false, error };
      }
      return { indices: [], hint: {} };
    }
    const again: number[] = [];
    let wait: number | undefined;
    responses.forEach((response, k) => {
      const index = pending[k] as number;
      const request = entries[index]?.request;
      const status = parseStatus(response.response?.status);
      if (isSuccess(status)) {
        results[index] = { ok: true, status, entry: response };
        return;
      }
      const resourceType = request === undefined ? undefined : resourceTypeOfUrl(request.url);
      const outcome = outcomeFromResponse(status, response.response?.outcome ?? response.resource);
      results[index] = {
        ok: false,
        error: errorFromFhirResponse(status, outcome, {
          method: request?.method ?? 'GET',
          ...(resourceType === undefined ? {} : { resourceType }),
          includeDiagnostics: this.#includeDiagnostics,
        }),
      };
      if (isRetryableStatus(status)) {
        again.push(index);
      }
    });
    if (again.length > 0) {
      wait = retryAfterMs(exchange.headers, this.#env.now());
    }
    return { indices: again, hint: wait === undefined ? {} : { retryAfterMs: wait } };
  }

  // ---- HTTP --------------------------------------------------------------------------------------------------------

  /** One request with retries; returns the final exchange (which may still be an error status). */
  async #request(spec: RequestSpec): Promise<Exchange> {
    return runWithRetry(
      async (attempt) => {
        const exchange = await this.#send(spec, attempt);
        return isRetryableStatus(exchange.status)
          ? { retry: true, value: exchange, retryAfterMs: retryAfterMs(exchange.headers, this.#env.now()) }
          : { retry: false, value: exchange };
      },
      this.#policy,
      this.#env,
    );
  }

  /** One attempt: a token, a slot, the exchange, and on 401 one repeat with a fresh token. */
  async #send(spec: RequestSpec, attempt: number): Promise<Exchange> {
    const token = await this.#tokens.getToken();
    const release = await this.#slots.acquire();
    try {
      const exchange = await this.#exchange(spec, token, attempt);
      if (exchange.status !== 401 || token === undefined || !this.#tokens.invalidate(token)) {
        return exchange;
      }
      return await this.#exchange(spec, await this.#tokens.getToken(), attempt);
    } finally {
      release();
    }
  }

  async #exchange(spec: RequestSpec, token: string | undefined, attempt: number): Promise<Exchange> {
    const headers: Record<string, string> = { accept: FHIR_JSON, ...spec.headers };
    if (spec.body !== undefined) {
      headers['content-type'] = FHIR_JSON;
    }
    if (token !== undefined) {
      headers.authorization = `Bearer ${token}`;
    }
    const started = performance.now();
    let status = 0;
    try {
      const response = await fetch(spec.url, {
        method: spec.method,
        headers,
        body: spec.body,
        signal: AbortSignal.timeout(spec.interaction === 'batch' ? this.#batchTimeoutMs : this.#timeoutMs),
      });
      status = response.status;
      // Read the body under the same timeout: a connection reset mid-body is as transient as one before it.
      const text = await response.text();
      let body: unknown;
      let unreadable = false;
      if (text.length > 0) {
        try {
          body = JSON.parse(text);
        } catch {
          unreadable = true;
        }
      }
      return { status, headers: response.headers, body, unreadable };
    } catch (error) {
      throw transportError(error, spec.method, spec.resourceType);
    } finally {
      this.#report(spec, status, performance.now() - started, attempt);
    }
  }

  #report(spec: RequestSpec, status: number, durationMs: number, attempt: number): void {
    if (this.#onRequest === undefined) {
      return;
    }
    const event: FhirRequestEvent = {
      interaction: spec.interaction,
      method: spec.method,
      status,
      durationMs,
      attempt,
      ...(spec.resourceType === undefined ? {} : { resourceType: spec.resourceType }),
      ...(spec.entries === undefined ? {} : { entries: spec.entries }),
    };
    try {
      this.#onRequest(event);
    } catch {
      // A failing metrics hook must not fail a save.
    }
  }

  #error(exchange: Exchange, method: string, resourceType: string): PipelineError {
    return errorFromFhirResponse(exchange.status, outcomeFromResponse(exchange.status, exchange.body), {
      method,
      resourceType,
      includeDiagnostics: this.#includeDiagnostics,
    });
  }
}

// ---- helpers ---------------------------------------------------------------------------------------------------------

/**
 * The base URL without trailing slashes; only http(s), no query or fragment.
 * @param baseUrl - the configured base URL
 */
export function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new PipelineError(ErrorCode.ConfigurationInvalid, 'the FHIR base URL is not a URL');
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search !== '' || url.hash !== '') {
    throw new PipelineError(
      ErrorCode.ConfigurationInvalid,
      'the FHIR base URL must be an http(s) URL without query or fragment',
    );
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Escapes a token part for FHIR search: `\`, `|`, `,` and `$` get a backslash (FHIR R4 search §3.1.1.2.2 escaping).
 * @param value - a system or value
 */
export function escapeSearchValue(value: string): string {
  return value.replace(/[\\|,$]/g, (c) => `\\${c}`);
}

/**
 * The `identifier` token: `value` (any system), `|value` (no system, `system === ''`) or `system|value`.
 * @param identifier - system and value
 */
export function identifierToken(identifier: Pick<Identifier, 'system' | 'value'>): string {
  const value = escapeSearchValue(identifier.value ?? '');
  return identifier.system === undefined ? value : `${escapeSearchValue(identifier.system)}|${value}`;
}

/**
 * The relative search URL `[type]?identifier=[token]`, URL-encoded.
 * @param resourceType - the type
 * @param identifier - system and value
 */
export function searchPath(resourceType: string, identifier: Pick<Identifier, 'system' | 'value'>): string {
  return `${resourceType}?identifier=${encodeURIComponent(identifierToken(identifier))}`;
}

function hasIdentifier(resource: Resource, wanted: Pick<Identifier, 'system' | 'value'>): boolean {
  const identifiers = (resource as { identifier?: Identifier[] }).identifier ?? [];
  return identifiers.some(
    (i) =>
      i.value === wanted.value &&
      (wanted.system === undefined || (wanted.system === '' ? i.system === undefined : i.system === wanted.system)),
  );
}

function weakETag(version: string): string {
  return /^(W\/)?"/.test(version) ? version : `W/"${version}"`;
}

function versionFromETag(etag: string | undefined): string | undefined {
  return etag === undefined ? undefined : /^(?:W\/)?"([^"]+)"$/.exec(etag.trim())?.[1];
}

function versionFromLocation(location: string | undefined): string | undefined {
  return location === undefined ? undefined : /\/_history\/([^/?#]+)/.exec(location)?.[1];
}

function resourceTypeOfUrl(url: string): string | undefined {
  return /^([A-Z][A-Za-z]+)/.exec(url)?.[1];
}

function parseStatus(status: string | undefined): number {
  const code = status === undefined ? Number.NaN : Number.parseInt(status, 10);
  return Number.isNaN(code) ? 0 : code;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

function isNotSupportedOutcome(exchange: Exchange): boolean {
  return (
    (exchange.status === 400 || exchange.status === 422) &&
    outcomeFromResponse(exchange.status, exchange.body).issue.some((i) => i.code === 'not-supported')
  );
}

function isBundle(value: unknown): value is Bundle {
  return isResourceOf(value, 'Bundle');
}

function isResourceOf<K extends ResourceType>(value: unknown, resourceType: K): value is ResourceOf<K> {
  return (
    typeof value === 'object' && value !== null && (value as { resourceType?: unknown }).resourceType === resourceType
  );
}

function requireId(resource: Resource): string {
  if (resource.id === undefined || resource.id === '') {
    throw new PipelineError(ErrorCode.Internal, `cannot PUT a ${resource.resourceType} without an id`);
  }
  return resource.id;
}

function unexpectedBody(method: string, resourceType: string): PipelineError {
  return new PipelineError(
    ErrorCode.FhirRequestFailed,
    `FHIR ${method} ${resourceType} returned an unexpected response body`,
    { details: { method, resourceType } },
  );
}

async function settle<T>(task: () => Promise<T>): Promise<FhirResult<T>> {
  try {
    return { ok: true, value: await task() };
  } catch (error) {
    return { ok: false, error: toPipelineError(error, ErrorCode.FhirRequestFailed) };
  }
}
