/**
 * The dead-letter activity: writes the groups of a chunk whose save activity failed on every attempt to the
 * dead-letter store (the orchestrator cannot do I/O itself). Which groups of the chunk were saved before the
 * failure is not known here, so all are recorded; replaying a saved group changes nothing. A group that already has
 * an entry (the save activity dead-lettered it with its own, more precise error) keeps it.
 */
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';

import { groupDeadLetterEntry, Metric, PipelineError } from '../pipeline';
import { getComposition } from './shared/composition';
import { DEAD_LETTER_GROUPS } from './shared/function-names';
import { readDeadLetterGroupsInput } from './shared/orchestration-io';

export { DEAD_LETTER_GROUPS };

/**
 * Dead-letters a failed chunk.
 * @param input - a {@link DeadLetterGroupsInput}
 * @param context - the invocation
 * @returns how many of the groups are now in the dead-letter store (all of them)
 */
export async function deadLetterGroups(input: unknown, context: InvocationContext): Promise<number> {
  const { groups, code, message, mappingVersion, attempts } = readDeadLetterGroupsInput(input);
  const c = getComposition();
  // Not retryable any more: Durable has used up the attempts.
  const error = new PipelineError(code, message, { retryable: false });
  const now = c.clock();
  const candidates = groups.map((g) => groupDeadLetterEntry(g, error, { mappingVersion, now, attempts }));
  const existing = await Promise.all(candidates.map((e) => c.deadLetters.get(e.id)));
  const entries = candidates.filter((_, i) => existing[i] === undefined);
  await c.deadLetters.put(entries);
  c.metrics.count(Metric.DeadLetteredItems, entries.length, { stage: 'FHIRConversion' });
  c.logger.error('measurement groups dead-lettered after the last save attempt', {
    code,
    count: entries.length,
    attempt: attempts,
    mappingVersion,
    invocationId: context.invocationId,
  });
  return candidates.length;
}

df.app.activity(DEAD_LETTER_GROUPS, { handler: deadLetterGroups });
