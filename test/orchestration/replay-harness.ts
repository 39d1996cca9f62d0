/**
 * Runs an orchestrator through durable-functions' own replay engine (its internal `testingUtils`, which the package
 * ships but does not type) over synthetic histories, as the Durable extension would: each run replays the whole
 * history and reports the actions the orchestrator wants next, its custom status and, once done, its output.
 *
 * Event ids follow the extension's numbering: every scheduled task and timer takes the next id, in the order the
 * orchestrator creates them; a `callActivityWithRetry` failure is followed by a retry timer (even after the last
 * attempt, which is how the engine learns that the attempts are used up).
 */
import { DummyOrchestrationContext, type OrchestrationHandler } from 'durable-functions';

interface TestingUtils {
  createOrchestrator(
    fn: OrchestrationHandler,
  ): (input: unknown, context: DummyOrchestrationContext) => Promise<unknown>;
  DurableOrchestrationInput: new (instanceId: string, history: unknown[], input: unknown) => unknown;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const testing = require('durable-functions/lib/src/util/testingUtils') as TestingUtils;

/** History event types (durable-functions `HistoryEventType`). */
const EventType = {
  ExecutionStarted: 0,
  TaskScheduled: 4,
  TaskCompleted: 5,
  TaskFailed: 6,
  TimerCreated: 10,
  TimerFired: 11,
  OrchestratorStarted: 12,
  OrchestratorCompleted: 13,
} as const;

/** One history event as the extension sends it. */
export type HistoryEvent = Record<string, unknown> & { EventType: number; EventId: number };

/** A scheduled action as the engine reports it. */
export interface Action {
  readonly actionType: number;
  readonly functionName?: string;
  readonly input?: unknown;
  readonly retryOptions?: { firstRetryIntervalInMilliseconds: number; maxNumberOfAttempts: number };
}

/** What one replay produced. */
export interface Episode {
  readonly isDone: boolean;
  readonly actions: Action[];
  readonly output?: unknown;
  readonly customStatus?: unknown;
  /** Set when the orchestrator threw. */
  readonly error?: string;
}

/** Builds a history episode by episode. */
export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  #time: number;

  /**
   * @param input - the orchestration input
   * @param start - the first OrchestratorStarted time
   */
  constructor(input: unknown, start = Date.UTC(2024, 2, 10, 15, 0, 0)) {
    this.#time = start;
    this.add(EventType.OrchestratorStarted, -1);
    this.add(EventType.ExecutionStarted, -1, { Name: 'groupMeasurements', Input: JSON.stringify(input) });
  }

  /** Ends the current episode and starts the next one, one second later. */
  nextEpisode(): this {
    this.add(EventType.OrchestratorCompleted, -1);
    this.#time += 1000;
    return this.add(EventType.OrchestratorStarted, -1);
  }

  scheduled(id: number, name: string): this {
    return this.add(EventType.TaskScheduled, id, { Name: name });
  }

  completed(id: number, result: unknown): this {
    return this.add(EventType.TaskCompleted, -1, { TaskScheduledId: id, Result: JSON.stringify(result) });
  }

  failed(id: number, reason: string): this {
    return this.add(EventType.TaskFailed, -1, { TaskScheduledId: id, Reason: reason, Details: 'at saveObservations' });
  }

  /** The retry timer the extension creates after a failed attempt, and its firing. */
  retryTimer(id: number): this {
    this.add(EventType.TimerCreated, id, { FireAt: new Date(this.#time + 5000).toISOString() });
    this.nextEpisode();
    return this.add(EventType.TimerFired, -1, { TimerId: id, FireAt: new Date(this.#time).toISOString() });
  }

  private add(type: number, id: number, extra: Record<string, unknown> = {}): this {
    this.events.push({ EventType: type, EventId: id, IsPlayed: false, Timestamp: new Date(this.#time), ...extra });
    return this;
  }
}

/**
 * Replays a history through the orchestrator.
 * @param orchestrator - the orchestrator function
 * @param input - the orchestration input
 * @param history - the history so far
 */
export async function replay(
  orchestrator: OrchestrationHandler,
  input: unknown,
  history: HistoryEvent[],
): Promise<Episode> {
  const run = testing.createOrchestrator(orchestrator);
  const context = new DummyOrchestrationContext('groupMeasurements', 'invocation', () => undefined);
  // Each replay gets a deep copy: the engine marks events it has seen.
  const binding = new testing.DurableOrchestrationInput('instance-1', structuredClone(history), input);
  try {
    const state = (await run(binding, context)) as Episode & { actions: Action[][] };
    return { ...state, actions: state.actions.flat() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // The engine reports a failed orchestration as an error carrying its state (with the orchestrator's error).
    const data = message.split('$OutOfProcData$:')[1];
    const state = data === undefined ? undefined : (JSON.parse(data) as Episode & { actions: Action[][] });
    return {
      isDone: false,
      actions: state?.actions.flat() ?? [],
      customStatus: state?.customStatus,
      error: state?.error ?? message,
    };
  }
}
