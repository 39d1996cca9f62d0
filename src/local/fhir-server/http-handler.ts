import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, getStatus, isResourceType, singularize } from '@medplum/core';
import type { FhirResponse, FhirRouter, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { readBody } from '../http/read-body';
import type { IndexedMemoryRepository } from './indexed-memory-repository';

/** The content type of every response: https://hl7.org/fhir/R4/http.html#mime-type */
const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** Azure Health Data Services' limit on Bundle entries; the pipeline must stay within it, so this server enforces it. */
export const MAX_BUNDLE_ENTRIES = 500;

const METHODS: ReadonlySet<string> = new Set<HttpMethod>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const WITH_BODY: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH']);

/** What the request listener serves. */
export interface FhirHttpContext {
  /** Path prefix of the FHIR base, e.g. `/fhir` (no trailing slash; empty for the root). */
  readonly basePath: string;
  /** medplum's router, with this server's handlers. */
  readonly router: FhirRouter;
  /** The store. */
  readonly repository: IndexedMemoryRepository;
  /** Request bodies above this many bytes get 413. */
  readonly maxBodyBytes: number;
  /** The base URL, for `Location`. */
  readonly baseUrl: () => string;
  /** The CapabilityStatement's JSON text. */
  readonly capabilityStatement: () => string;
}

function outcomeOf(severity: 'error' | 'fatal', code: OperationOutcomeIssue['code'], text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function send(res: ServerResponse, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': FHIR_JSON, 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** `Prefer: return=…` (https://hl7.org/fhir/R4/http.html#ops); representation is the default. */
function preferredReturn(req: IncomingMessage): 'minimal' | 'representation' | 'OperationOutcome' {
  const prefer = singularize(req.headers.prefer) ?? '';
  const match = /(?:^|[;,\s])return=(minimal|representation|OperationOutcome)\b/.exec(prefer);
  return (match?.[1] as 'minimal' | 'representation' | 'OperationOutcome' | undefined) ?? 'representation';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** ETag and Last-Modified of a resource version (https://hl7.org/fhir/R4/http.html#versioning). */
function versionHeaders(resource: Resource | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (resource?.meta?.versionId !== undefined) {
    headers.etag = `W/"${resource.meta.versionId}"`;
  }
  if (resource?.meta?.lastUpdated !== undefined) {
    headers['last-modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  }
  return headers;
}

/**
 * Completes batch/transaction-response entries as FHIR describes them: `etag` and `lastModified` of the written
 * version (medplum leaves them out; a client needs the etag for its next If-Match), and no resource with
 * `Prefer: return=minimal`.
 */
function finishBatchResponse(bundle: Bundle, minimal: boolean): void {
  for (const entry of bundle.entry ?? []) {
    const meta = entry.resource?.meta;
    if (entry.response !== undefined && meta?.versionId !== undefined && entry.resource?.resourceType !== 'Bundle') {
      entry.response.etag = `W/"${meta.versionId}"`;
      entry.response.lastModified = meta.lastUpdated;
    }
    if (minimal) {
      delete entry.resource;
    }
  }
}

/** Checks what medplum does not: the body's shape for the route. Returns the problem, if any. */
function checkBody(method: string, relativePath: string, body: unknown): string | undefined {
  if (method === 'PATCH') {
    return body === undefined ? 'PATCH needs a JSON Patch body' : undefined;
  }
  if (!isRecord(body)) {
    return 'The body must be a FHIR resource (a JSON object)';
  }
  if (relativePath === '' && method === 'POST') {
    const entries = body.entry;
    if (body.resourceType !== 'Bundle') {
      return 'POST to the base needs a batch or transaction Bundle';
    }
    if (Array.isArray(entries) && entries.length > MAX_BUNDLE_ENTRIES) {
      return `A Bundle may have at most ${MAX_BUNDLE_ENTRIES} entries`;
    }
  }
  return undefined;
}

/** An error answer that the router never sees. */
interface EarlyAnswer {
  readonly status: number;
  readonly outcome: OperationOutcome;
  readonly headers?: Record<string, string>;
}

/** Answers what is not medplum's to answer: paths outside the base, other methods, unknown resource types. */
function checkRoute(basePath: string, pathname: string, method: string): EarlyAnswer | undefined {
  if (pathname !== basePath && !pathname.startsWith(`${basePath}/`)) {
    const text = `Not a FHIR endpoint; the FHIR base is ${basePath || '/'}`;
    return { status: 404, outcome: outcomeOf('error', 'not-found', text) };
  }
  if (!METHODS.has(method)) {
    const outcome = outcomeOf('error', 'not-supported', `Method ${method} is not supported`);
    return { status: 405, outcome, headers: { allow: [...METHODS].join(', ') } };
  }
  const [resourceType = ''] = pathname.slice(basePath.length).split('/').filter(Boolean);
  const known = resourceType === '' || resourceType === 'metadata' || resourceType.startsWith('$');
  if (!known && !isResourceType(resourceType)) {
    return { status: 404, outcome: outcomeOf('error', 'not-found', `Unknown resource type or route: ${resourceType}`) };
  }
  return undefined;
}

/** Reads and parses a request body: the JSON value, or the error answer. */
async function parseBody(
  req: IncomingMessage,
  method: string,
  relativePath: string,
  maxBodyBytes: number,
): Promise<{ readonly body: unknown } | EarlyAnswer> {
  const raw = await readBody(req, maxBodyBytes);
  if (raw === 'too-large') {
    const text = `The request body is larger than ${maxBodyBytes} bytes`;
    return { status: 413, outcome: outcomeOf('error', 'too-long', text), headers: { connection: 'close' } };
  }
  let body: unknown;
  try {
    body = raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'));
  } catch {
    // The parser's message quotes the body: never echo or log resource content.
    return { status: 400, outcome: outcomeOf('error', 'structure', 'The request body is not valid JSON') };
  }
  const problem = checkBody(method, relativePath, body);
  return problem === undefined ? { body } : { status: 400, outcome: badRequest(problem) };
}

/** Writes the router's answer with FHIR's headers, as the client's `Prefer` asks. */
function sendFhirResponse(
  context: FhirHttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  [outcome, resource]: FhirResponse,
): void {
  const status = getStatus(outcome);
  if (status >= 400 || resource === undefined) {
    send(res, status, outcome);
    return;
  }
  const prefer = preferredReturn(req);
  if (resource.resourceType === 'Bundle' && resource.type.endsWith('-response')) {
    finishBatchResponse(resource, prefer === 'minimal');
  }
  const headers = versionHeaders(resource);
  if (status === 201 && resource.id !== undefined) {
    const version = resource.meta?.versionId === undefined ? '' : `/_history/${resource.meta.versionId}`;
    headers.location = `${context.baseUrl()}/${resource.resourceType}/${resource.id}${version}`;
  }
  if (prefer === 'minimal' && resource.resourceType !== 'Bundle') {
    send(res, status, undefined, headers);
  } else {
    send(res, status, prefer === 'OperationOutcome' ? outcome : resource, headers);
  }
}

async function handle(context: FhirHttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const early = checkRoute(context.basePath, url.pathname, method);
  if (early !== undefined) {
    send(res, early.status, early.outcome, early.headers);
    return;
  }
  const relativePath = url.pathname.slice(context.basePath.length).replace(/^\/+|\/+$/g, '');
  if (relativePath === 'metadata' && method === 'GET') {
    const text = context.capabilityStatement();
    res.writeHead(200, { 'content-type': FHIR_JSON, 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return;
  }
  let body: unknown;
  if (WITH_BODY.has(method)) {
    const parsed = await parseBody(req, method, relativePath, context.maxBodyBytes);
    if ('status' in parsed) {
      send(res, parsed.status, parsed.outcome, parsed.headers);
      return;
    }
    body = parsed.body;
  }
  const response = await context.router.handleRequest(
    {
      method: method as HttpMethod,
      url: relativePath + url.search,
      pathname: '',
      params: {},
      query: {},
      body,
      headers: req.headers,
      // Transactions fail as a whole (though MemoryRepository cannot undo the entries written before the failure).
      config: { transactions: true },
    },
    context.repository,
  );
  sendFhirResponse(context, req, res, response);
}

/**
 * The node:http request listener of the FHIR server: maps HTTP onto medplum's FhirRouter and back, with FHIR's
 * headers (ETag, Last-Modified, Location, Prefer), a body limit, and OperationOutcome for every error. It never logs:
 * requests carry patient data.
 * @param context - what to serve
 * @returns the listener
 */
export function createRequestListener(context: FhirHttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(context, req, res).catch(() => {
      if (res.headersSent) {
        res.destroy();
      } else {
        send(res, 500, outcomeOf('fatal', 'exception', 'Internal server error'));
      }
    });
  };
}
