/**
 * Health checks over HTTP (function-key auth): `GET /api/health` answers 200 when the app can work (Healthy or
 * Degraded) and 503 when it cannot, with the status of every check (see shared/health-checks.ts). Settings that do
 * not parse are reported as a failed `settings` check rather than as an error.
 */
import { app, type HttpResponseInit } from '@azure/functions';

import { toPipelineError } from '../pipeline';
import { getComposition } from './shared/composition';
import { HEALTH } from './shared/function-names';
import { runHealthChecks } from './shared/health-checks';
import { jsonResponse } from './shared/http';

export { HEALTH };

/** Runs the health checks (`GET /api/health`). */
export async function health(): Promise<HttpResponseInit> {
  let composition;
  try {
    composition = getComposition();
  } catch (error) {
    const e = toPipelineError(error);
    return jsonResponse(503, {
      status: 'Unhealthy',
      checks: { settings: { status: 'Unhealthy', description: e.message, code: e.code, durationMs: 0 } },
    });
  }
  const report = await runHealthChecks(composition);
  return jsonResponse(report.status === 'Unhealthy' ? 503 : 200, report);
}

app.http(HEALTH, { methods: ['GET'], authLevel: 'function', route: 'health', handler: health });
