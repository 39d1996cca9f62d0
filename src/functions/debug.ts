/**
 * The mapping debugger as an API (function-key auth): `POST /api/debug` runs events through the mappings into a
 * fresh in-memory FHIR store and answers the measurements, Observations and errors; `POST /api/debug/validate`
 * only loads the mappings and answers their issues. The work is in src/adapters/debug/debug-api.ts, shared with the
 * local web debugger. Nothing here touches the deployment's FHIR service or dead-letter store.
 */
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';

import { DEBUG_API_LIMITS, handleDebugApiRequest, handleValidateApiRequest } from '../adapters/debug/debug-api';
import { DEBUG } from './shared/function-names';
import { jsonResponse, readBody } from './shared/http';

export { DEBUG };

/**
 * Answers a debugger request. Nothing is logged: request bodies are device data.
 * @param request - `POST /api/debug` or `POST /api/debug/validate` with a JSON body
 */
export async function debug(request: HttpRequest): Promise<HttpResponseInit> {
  const operation = request.params.operation;
  if (operation !== undefined && operation !== 'validate') {
    return jsonResponse(404, { error: 'unknown operation; use /api/debug or /api/debug/validate' });
  }
  const body = await readBody(request, DEBUG_API_LIMITS.maxRequestBytes);
  if (!body.ok) {
    return body.response;
  }
  const answer =
    operation === 'validate'
      ? handleValidateApiRequest(body.bytes)
      : await handleDebugApiRequest(body.bytes, { clock: Date.now });
  return jsonResponse(answer.status, answer.json);
}

app.http(DEBUG, { methods: ['POST'], authLevel: 'function', route: 'debug/{operation?}', handler: debug });
