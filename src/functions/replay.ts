/**
 * Dead-letter replay over HTTP (function-key auth): `POST /api/replay` with `{since?, errorType?, stage?, limit?,
 * dryRun?}` re-runs the selected entries through the current mappings and removes each one once its data is saved
 * (see src/adapters/dead-letter/replay.ts). Answers the outcome of every entry; 400 names a bad field.
 */
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';

import { replayDeadLetters, type ReplayRequest } from '../adapters/dead-letter/replay';
import { MAX_DEAD_LETTER_LIMIT } from '../pipeline';
import { getComposition } from './shared/composition';
import { REPLAY } from './shared/function-names';
import { errorResponse, jsonResponse, readBody } from './shared/http';

export { REPLAY };

/** Replay requests are small; anything larger is not one. */
const MAX_REQUEST_BYTES = 16 * 1024;

/**
 * Replays dead-lettered entries.
 * @param request - `POST /api/replay` with a JSON body (an empty body replays the newest 100 entries)
 * @param context - the invocation
 */
export async function replay(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const body = await readBody(request, MAX_REQUEST_BYTES);
  if (!body.ok) {
    return body.response;
  }
  const parsed = readReplayRequest(body.bytes);
  if (typeof parsed === 'string') {
    return jsonResponse(400, { error: parsed });
  }
  try {
    const c = getComposition();
    const [device, fhir] = await Promise.all([c.deviceMappings.get(), c.fhirMappings.get()]);
    const report = await replayDeadLetters(parsed, {
      deadLetters: c.deadLetters,
      normalizer: device.value.normalizer,
      deviceMappingVersion: device.version,
      fhirMapping: fhir.value,
      fhirMappingVersion: fhir.version,
      store: c.fhirStore,
      identity: c.identity,
      clock: c.clock,
      metrics: c.metrics,
      cache: c.observationCache,
    });
    c.logger.info('dead-letter replay finished', {
      invocationId: context.invocationId,
      count: report.entries.length,
    });
    return jsonResponse(200, report);
  } catch (error) {
    return errorResponse(error);
  }
}

/** How each member of a replay request is checked: undefined when valid, else what is wrong. */
const MEMBER_CHECKS: Readonly<Record<keyof ReplayRequest, (value: unknown) => string | undefined>> = {
  since: (v) =>
    typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? undefined : 'since must be an ISO-8601 date-time',
  errorType: (v) =>
    typeof v === 'string' && /^[A-Za-z_]{1,100}$/.test(v)
      ? undefined
      : 'errorType must be an error code (REQUIRED_VALUE_MISSING) or a MedTech error type',
  stage: (v) =>
    v === 'Normalization' || v === 'FHIRConversion' ? undefined : 'stage must be Normalization or FHIRConversion',
  limit: (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_DEAD_LETTER_LIMIT
      ? undefined
      : `limit must be a whole number from 1 to ${MAX_DEAD_LETTER_LIMIT}`,
  dryRun: (v) => (typeof v === 'boolean' ? undefined : 'dryRun must be true or false'),
};

/**
 * Reads and checks a replay request.
 * @param bytes - the request body (empty: all defaults)
 * @returns the request, or what is wrong with it
 */
export function readReplayRequest(bytes: Uint8Array): ReplayRequest | string {
  const text = new TextDecoder().decode(bytes).trim();
  let value: unknown = {};
  if (text !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      return 'the body must be JSON';
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'the body must be a JSON object';
  }
  const request: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    const check = Object.hasOwn(MEMBER_CHECKS, key) ? MEMBER_CHECKS[key as keyof ReplayRequest] : undefined;
    if (check === undefined) {
      return `unknown member ${JSON.stringify(key.slice(0, 40))}; allowed: ${Object.keys(MEMBER_CHECKS).join(', ')}`;
    }
    const problem = check(member);
    if (problem !== undefined) {
      return problem;
    }
    request[key] = member;
  }
  return request;
}

app.http(REPLAY, { methods: ['POST'], authLevel: 'function', route: 'replay', handler: replay });
