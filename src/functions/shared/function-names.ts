/**
 * The names functions are registered under. Function files re-export their own name; a file that needs another
 * function's name (the trigger starts the orchestrator, the orchestrator calls the activities) imports it from here
 * rather than from that function's file (house-style convention 3 and the dependency rules of §7.1).
 */

/** The Event Hubs trigger. */
export const INGEST_DEVICE_EVENTS = 'ingestDeviceEvents';
/** The grouping orchestrator. */
export const GROUP_MEASUREMENTS = 'groupMeasurements';
/** The activity that saves a chunk of measurement groups as Observations. */
export const SAVE_OBSERVATIONS = 'saveObservations';
/** The activity that writes the groups of a chunk that failed on every attempt to the dead-letter store. */
export const DEAD_LETTER_GROUPS = 'deadLetterGroups';
/** The mapping debugger API (HTTP). */
export const DEBUG = 'debug';
/** The health checks (HTTP). */
export const HEALTH = 'health';
/** Dead-letter replay (HTTP). */
export const REPLAY = 'replay';
