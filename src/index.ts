/**
 * The app's entry module, loaded by the Functions host before the function modules (package.json `main`). It builds
 * the composition right away, so a deployment with a bad or missing setting fails at start-up with one error that
 * lists every problem instead of failing each invocation, and it flushes telemetry when the worker stops. Functions
 * register themselves in their own files under src/functions/.
 */
import { app } from '@azure/functions';

import { getComposition } from './functions/shared/composition';

const composition = getComposition();

app.hook.appTerminate(async () => {
  // Application Insights exports metrics once a minute; send what is queued before the worker goes away.
  await composition.shutdown();
});
