/**
 * Small HTTP helpers shared by the HTTP functions: bounded body reading and JSON answers. Answers never echo the
 * request body (it may hold device data) and are not cached.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import { type PipelineError, toPipelineError } from '../../pipeline';

/**
 * A JSON answer.
 * @param status - the HTTP status
 * @param body - the JSON body
 */
export function jsonResponse(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'cache-control': 'no-store' } };
}

/**
 * The answer for an error: 503 when retrying later may help (storage, FHIR service), 500 otherwise.
 * @param error - what was thrown
 */
export function errorResponse(error: unknown): HttpResponseInit {
  const e: PipelineError = toPipelineError(error);
  return jsonResponse(e.retryable ? 503 : 500, { error: { code: e.code, message: e.message } });
}

/**
 * Reads the body, refusing more than `maxBytes` while reading (a client cannot make the worker buffer more).
 * @param request - the request
 * @param maxBytes - the limit
 * @returns the bytes, or the 413 answer
 */
export async function readBody(
  request: HttpRequest,
  maxBytes: number,
): Promise<{ ok: true; bytes: Uint8Array } | { ok: false; response: HttpResponseInit }> {
  const tooLarge = { ok: false as const, response: jsonResponse(413, { error: `body over ${maxBytes} bytes` }) };
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > maxBytes) {
    return tooLarge;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    // The typings leave the chunk type open; the host's body stream yields bytes.
    const reader = (request.body as ReadableStream<Uint8Array>).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        break;
      }
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel();
        return tooLarge;
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { ok: true, bytes };
}
