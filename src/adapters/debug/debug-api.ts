/**
 * The mapping debugger's API, free of any HTTP framework: the local web debugger (src/local/web) and the Azure
 * Functions `debug` HTTP function both hand it the request body and send back `{ status, json }`.
 *
 * - `handleValidateApiRequest`: loads the mappings (no events) and reports every issue with line and column, plus the
 *   cross-check warnings — fast enough to run as the user types.
 * - `handleDebugApiRequest`: runs events through the real pipeline into a fresh in-memory FHIR store and returns the
 *   measurements, the resulting Observations, the other resources and every error by stage.
 *
 * Request bodies are device data: they are never logged, and error messages name the field at fault, never its
 * content.
 */
import type { Bundle, Observation, Resource, ResourceType } from '@medplum/fhirtypes';
import type { Clock, DebugError, DebugEvent, IdentityMode, MappingIssue, Measurement } from '../../pipeline';
import { loadDeviceMapping, loadFhirMapping, runDebugSession, toPipelineError } from '../../pipeline';
import type { EventsFileEntry } from '../events/event-entry';
import { toFileEvent } from '../events/event-entry';
import { MemoryFhirStore } from '../fhir/memory-fhir-store';
import type { MappingWarning } from './mapping-warnings';
import { crossCheckWarnings } from './mapping-warnings';

/** Limits of one API request. */
export const DEBUG_API_LIMITS = {
  /** Request bodies above this many bytes get 413 (checked here for raw bodies; HTTP adapters check while reading). */
  maxRequestBytes: 5 * 1024 * 1024,
  /** A debug run takes at most this many events (400 above). */
  maxEvents: 1000,
} as const;

/** What an API call answers: an HTTP status and a JSON body. */
export interface ApiResponse {
  readonly status: number;
  readonly json: unknown;
}

/** The body of an error answer. */
export interface ApiErrorBody {
  /** What is wrong with the request, naming the field at fault. */
  readonly error: string;
}

/** The body of `POST /api/debug`. */
export interface DebugApiRequest {
  /** The device mapping's JSON text (positions in the answer refer to it). */
  readonly deviceMapping: string;
  /** The FHIR destination mapping's JSON text; without it only normalization runs. */
  readonly fhirMapping?: string;
  /** The events, as in `iomt debug --events` files; events with the same `batch` form one batch. */
  readonly events: readonly EventsFileEntry[];
  /** Identity resolution; default {@link DEFAULT_DEBUG_RESOLUTION}. */
  readonly resolution?: IdentityMode;
  /** Resources stored before the run (e.g. the Devices and Patients that Lookup needs): an array or a Bundle. */
  readonly seed?: readonly Resource[] | Bundle;
}

/** The answer of a debug run. */
export interface DebugApiResponse {
  /** True when both mappings loaded (the events ran). */
  readonly mappingsValid: boolean;
  readonly measurements: readonly Measurement[];
  /** Every Observation in the store after the run (seeded ones included, possibly merged). */
  readonly observations: readonly Observation[];
  /** Every other resource in the store: seeded, and created by Create resolution. */
  readonly resources: readonly Resource[];
  /** Load errors (with line and column) and run errors (with the index of the event at fault), by stage. */
  readonly errors: readonly DebugError[];
  /** Every load issue, warnings included, of each mapping (the cross-check warnings come from validation). */
  readonly issues: { readonly deviceMapping: readonly MappingIssue[]; readonly fhirMapping: readonly MappingIssue[] };
}

/** The body of `POST /api/validate`: either mapping or both. */
export interface ValidateApiRequest {
  readonly deviceMapping?: string;
  readonly fhirMapping?: string;
}

/** The answer of a validation: the issues of each mapping sent, and the cross-check warnings when both load. */
export interface ValidateApiResponse {
  readonly deviceMapping?: { readonly issues: readonly MappingIssue[] };
  readonly fhirMapping?: { readonly issues: readonly MappingIssue[] };
  readonly warnings: readonly MappingWarning[];
}

/**
 * The debugger's default resolution. Not MedTech's default (Lookup): each run starts from an empty store, where
 * Lookup fails every group with DeviceNotFoundException unless the caller seeds the Device and its Patient — a first
 * run would show an error instead of an Observation. Create makes the Patient and Device exactly as MedTech's Create
 * mode does (same deterministic ids). Pick Lookup, with a `seed`, to reproduce a Lookup deployment.
 */
export const DEFAULT_DEBUG_RESOLUTION: IdentityMode = 'Create';

const RESOLUTIONS: readonly IdentityMode[] = ['Create', 'Lookup', 'LookupWithEncounter'];
const EVENT_MEMBERS: ReadonlySet<string> = new Set([
  'body',
  'bodyText',
  'properties',
  'systemProperties',
  'enqueuedTimeUtc',
  'batch',
]);

/** A request problem: answered with its status and message. */
class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/**
 * Runs a debug session (`POST /api/debug`): validates the request, seeds a fresh {@link MemoryFhirStore}, runs the
 * events through the real pipeline and answers {@link DebugApiResponse} (200, also when a mapping is invalid: the
 * issues are the answer). 400 names the field at fault; 413 when the body is over the size limit.
 *
 * @param body - the raw body (a string or bytes, parsed and size-checked here) or the already-parsed JSON
 * @param options - the clock (measurement ingestion times, `meta.lastUpdated`)
 */
export async function handleDebugApiRequest(body: unknown, options: { clock: Clock }): Promise<ApiResponse> {
  let request: ParsedDebugRequest;
  try {
    request = parseDebugRequest(parseBody(body));
  } catch (error) {
    return errorResponse(error);
  }
  const store = new MemoryFhirStore({ clock: options.clock });
  try {
    for (const resource of request.seed) {
      store.seed(resource);
    }
    const result = await runDebugSession(
      {
        deviceMapping: request.deviceMapping,
        ...(request.fhirMapping === undefined ? {} : { fhirMapping: request.fhirMapping }),
        events: request.events,
        resolution: request.resolution,
      },
      { store, clock: options.clock },
    );
    const json: DebugApiResponse = {
      mappingsValid: result.mappingsValid,
      measurements: result.measurements,
      observations: store.all('Observation'),
      resources: store
        .types()
        .filter((type) => type !== 'Observation')
        .flatMap((type: ResourceType) => store.all(type) as Resource[]),
      errors: result.errors,
      issues: result.issues,
    };
    return { status: 200, json };
  } catch (error) {
    // Data errors are part of the result; anything thrown is a bug. Its message names no data (PipelineError policy).
    const e = toPipelineError(error);
    return { status: 500, json: { error: `The debug session failed: ${e.code}: ${e.message}` } satisfies ApiErrorBody };
  }
}

/**
 * Validates mappings as the user types (`POST /api/validate`): just the loaders, no events. Answers
 * {@link ValidateApiResponse}: the issues of each mapping sent (empty when valid) and, when both load, the
 * cross-check warnings at their line and column.
 *
 * @param body - the raw body (a string or bytes) or the already-parsed JSON: `{deviceMapping?, fhirMapping?}`
 */
export function handleValidateApiRequest(body: unknown): ApiResponse {
  let request: ValidateApiRequest;
  try {
    const value = asObject(parseBody(body));
    const deviceMapping = optionalString(value, 'deviceMapping');
    const fhirMapping = optionalString(value, 'fhirMapping');
    request = {
      ...(deviceMapping === undefined ? {} : { deviceMapping }),
      ...(fhirMapping === undefined ? {} : { fhirMapping }),
    };
  } catch (error) {
    return errorResponse(error);
  }
  const device = request.deviceMapping === undefined ? undefined : loadDeviceMapping(request.deviceMapping);
  const fhir = request.fhirMapping === undefined ? undefined : loadFhirMapping(request.fhirMapping);
  const json: ValidateApiResponse = {
    ...(device === undefined ? {} : { deviceMapping: { issues: device.issues } }),
    ...(fhir === undefined ? {} : { fhirMapping: { issues: fhir.issues } }),
    warnings:
      device?.mapping === undefined || fhir?.mapping === undefined || request.deviceMapping === undefined
        ? []
        : crossCheckWarnings(request.deviceMapping, device.mapping, fhir.mapping),
  };
  return { status: 200, json };
}

// ---- request parsing -----------------------------------------------------------------------------------------------

interface ParsedDebugRequest {
  readonly deviceMapping: string;
  readonly fhirMapping: string | undefined;
  readonly events: DebugEvent[];
  readonly resolution: IdentityMode;
  readonly seed: readonly Resource[];
}

/** Raw bodies are size-checked and parsed; anything else is taken as the parsed JSON. */
function parseBody(body: unknown): unknown {
  if (typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return body;
  }
  const size = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (size > DEBUG_API_LIMITS.maxRequestBytes) {
    throw new RequestError(413, `The request body is larger than ${DEBUG_API_LIMITS.maxRequestBytes} bytes`);
  }
  const text = typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // The parser's message quotes the body: never echo device data.
    throw new RequestError(400, 'The request body is not valid JSON');
  }
}

function parseDebugRequest(body: unknown): ParsedDebugRequest {
  const value = asObject(body);
  const deviceMapping = optionalString(value, 'deviceMapping');
  if (deviceMapping === undefined) {
    throw new RequestError(400, `'deviceMapping' is required: the device mapping's JSON text, as a string`);
  }
  return {
    deviceMapping,
    fhirMapping: optionalString(value, 'fhirMapping'),
    events: parseEvents(value.events),
    resolution: parseResolution(value.resolution),
    seed: parseSeed(value.seed),
  };
}

function asObject(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RequestError(400, 'The request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** A string member; `null` counts as absent (JSON clients often send it for "none"). */
function optionalString(value: Record<string, unknown>, name: string): string | undefined {
  const member = value[name];
  if (member === undefined || member === null) {
    return undefined;
  }
  if (typeof member !== 'string') {
    throw new RequestError(400, `'${name}' must be a string holding the mapping's JSON text, not ${describe(member)}`);
  }
  return member;
}

function parseEvents(value: unknown): DebugEvent[] {
  if (!Array.isArray(value)) {
    throw new RequestError(
      400,
      `'events' is required: an array of {body, bodyText?, properties?, systemProperties?, enqueuedTimeUtc?, batch?}`,
    );
  }
  if (value.length > DEBUG_API_LIMITS.maxEvents) {
    throw new RequestError(
      400,
      `'events' has ${value.length} events; a debug run takes at most ${DEBUG_API_LIMITS.maxEvents}`,
    );
  }
  return value.map((entry: unknown, index) => {
    if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) {
      // A raw device message sent as an event would otherwise run as an empty body and match nothing, silently.
      const unknown = Object.keys(entry).find((key) => !EVENT_MEMBERS.has(key));
      if (unknown !== undefined) {
        throw new RequestError(
          400,
          `events[${index}] has an unknown member '${unknown}'; put the device message in 'body' (members: ${[...EVENT_MEMBERS].join(', ')})`,
        );
      }
      if (!('body' in entry) && !('bodyText' in entry)) {
        throw new RequestError(400, `events[${index}] needs 'body' (the device message) or 'bodyText'`);
      }
    }
    try {
      const { batch, event } = toFileEvent(entry, index, 'events');
      return { batch, event };
    } catch (error) {
      throw new RequestError(400, (error as Error).message);
    }
  });
}

function parseResolution(value: unknown): IdentityMode {
  if (value === undefined || value === null) {
    return DEFAULT_DEBUG_RESOLUTION;
  }
  const mode = typeof value === 'string' ? RESOLUTIONS.find((m) => m.toLowerCase() === value.toLowerCase()) : undefined;
  if (mode === undefined) {
    throw new RequestError(400, `'resolution' must be one of ${RESOLUTIONS.join(', ')}`);
  }
  return mode;
}

function parseSeed(value: unknown): Resource[] {
  if (value === undefined || value === null) {
    return [];
  }
  let resources: unknown[];
  let where: (i: number) => string;
  if (Array.isArray(value)) {
    resources = value;
    where = (i) => `seed[${i}]`;
  } else if (typeof value === 'object' && (value as { resourceType?: unknown }).resourceType === 'Bundle') {
    const entries = (value as { entry?: unknown }).entry ?? [];
    if (!Array.isArray(entries)) {
      throw new RequestError(400, `'seed.entry' must be an array`);
    }
    resources = entries.map((e: unknown) =>
      typeof e === 'object' && e !== null ? (e as { resource?: unknown }).resource : e,
    );
    where = (i) => `seed.entry[${i}].resource`;
  } else {
    throw new RequestError(400, `'seed' must be an array of FHIR resources or a Bundle`);
  }
  return resources.map((resource, i) => {
    const r = resource as Partial<Resource> | null;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) {
      throw new RequestError(400, `${where(i)} must be a FHIR resource (a JSON object)`);
    }
    if (typeof r.resourceType !== 'string' || !/^[A-Z][A-Za-z]+$/.test(r.resourceType)) {
      throw new RequestError(400, `${where(i)} needs a 'resourceType'`);
    }
    if (typeof r.id !== 'string' || !/^[A-Za-z0-9\-.]{1,64}$/.test(r.id)) {
      throw new RequestError(
        400,
        `${where(i)} needs an 'id' (1-64 letters, digits, '-' or '.'): it is stored at its id`,
      );
    }
    return r as Resource;
  });
}

function describe(value: unknown): string {
  return Array.isArray(value) ? 'an array' : value === null ? 'null' : `a ${typeof value}`;
}

function errorResponse(error: unknown): ApiResponse {
  if (error instanceof RequestError) {
    return { status: error.status, json: { error: error.message } satisfies ApiErrorBody };
  }
  throw error;
}
