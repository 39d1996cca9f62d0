import type { Clock } from './clock';
import type { PipelineErrorJson } from './errors';
import { createIdentityResolver } from './identity/resolve-identity';
import type { IdentityMode } from './identity/resolve-identity';
import { loadDeviceMapping } from './mapping/load-device-mapping';
import { loadFhirMapping } from './mapping/load-fhir-mapping';
import type { MappingIssue } from './mapping/mapping-issue';
import type { DeviceEvent } from './model/device-event';
import type { Measurement } from './model/measurement';
import { createNormalizer } from './normalize/normalize';
import type { FhirStore } from './persist/fhir-store';
import { processBatch } from './process-batch';

/** The stages a debugger error can come from (the `iomt debug --json` contract). */
export type DebugStage = 'TemplateLoad' | 'FhirTemplateLoad' | 'Normalization' | 'FHIRConversion';

/** One error of a debug session. Load errors also carry their position in the mapping. */
export interface DebugError {
  readonly stage: DebugStage;
  /** The message (event) at fault, when one is. */
  readonly messageIndex?: number;
  readonly code: string;
  readonly medtechErrorType: string;
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
  readonly jsonPointer?: string;
}

/** An event of a debug session and the Event Hubs batch it belongs to. */
export interface DebugEvent {
  readonly batch: number;
  readonly event: DeviceEvent;
}

/** What a debug session runs. */
export interface DebugInput {
  readonly deviceMapping: string;
  /** Without a FHIR mapping, only normalization runs. */
  readonly fhirMapping?: string;
  readonly events: readonly DebugEvent[];
  readonly resolution: IdentityMode;
  readonly defaultDeviceIdentifierSystem?: string;
}

/** What a debug session produced (Observations and other resources are read from the store by the caller). */
export interface DebugResult {
  /** True when both mappings loaded. */
  readonly mappingsValid: boolean;
  readonly measurements: Measurement[];
  readonly errors: DebugError[];
  /** Every load issue, warnings included (the debugger shows them at their line). */
  readonly issues: { readonly deviceMapping: readonly MappingIssue[]; readonly fhirMapping: readonly MappingIssue[] };
}

/**
 * The mapping debugger (MedTech portal's "View normalized message / View FHIR observation", medtech-reference §13):
 * loads both mappings, then runs the events batch by batch (ascending batch number) through the real pipeline into
 * the given store.
 *
 * @param input - mappings, events and identity mode
 * @param deps - the FHIR store to write into (a fresh, seeded one) and the clock
 */
export async function runDebugSession(
  input: DebugInput,
  deps: { store: FhirStore; clock: Clock },
): Promise<DebugResult> {
  const device = loadDeviceMapping(input.deviceMapping);
  const fhir = input.fhirMapping === undefined ? undefined : loadFhirMapping(input.fhirMapping);
  const errors: DebugError[] = [
    ...loadErrors('TemplateLoad', device.issues),
    ...loadErrors('FhirTemplateLoad', fhir?.issues ?? []),
  ];
  const issues = { deviceMapping: device.issues, fhirMapping: fhir?.issues ?? [] };
  const measurements: Measurement[] = [];
  if (device.mapping === undefined || (fhir !== undefined && fhir.mapping === undefined)) {
    return { mappingsValid: false, measurements, errors, issues };
  }
  const normalizer = createNormalizer(device.mapping, deps.clock);
  const batches = [...new Set(input.events.map((e) => e.batch))].sort((a, b) => a - b);
  const indexOfEvent = new Map(input.events.map((e, i) => [e.event, i]));
  const identity =
    fhir?.mapping === undefined
      ? undefined
      : createIdentityResolver({
          store: deps.store,
          mode: input.resolution,
          clock: deps.clock,
          ...(input.defaultDeviceIdentifierSystem === undefined
            ? {}
            : { defaultDeviceIdentifierSystem: input.defaultDeviceIdentifierSystem }),
        });
  for (const batch of batches) {
    const events = input.events.filter((e) => e.batch === batch).map((e) => e.event);
    if (fhir?.mapping === undefined || identity === undefined) {
      for (const event of events) {
        const result = await normalizer.normalize(event);
        measurements.push(...result.measurements);
        if (result.error !== undefined) {
          errors.push(runError('Normalization', result.error.toJSON(), indexOfEvent.get(event)));
        }
      }
      continue;
    }
    const origin = new Map<Measurement, number>();
    const report = await processBatch(events, {
      normalizer: tracking(normalizer, origin, indexOfEvent),
      fhirMapping: fhir.mapping,
      store: deps.store,
      identity,
      clock: deps.clock,
      concurrency: 1,
    });
    measurements.push(...report.measurements);
    for (const failure of report.failures) {
      errors.push(runError('Normalization', failure.error.toJSON(), indexOfEvent.get(failure.event)));
    }
    for (const failure of report.save.failures) {
      const first = failure.group.measurements[0];
      errors.push(runError('FHIRConversion', failure.error, first === undefined ? undefined : origin.get(first)));
    }
  }
  return { mappingsValid: true, measurements, errors, issues };
}

/** Remembers which message each measurement came from, so FHIR-stage errors can name it. */
function tracking(
  normalizer: ReturnType<typeof createNormalizer>,
  origin: Map<Measurement, number>,
  indexOfEvent: ReadonlyMap<DeviceEvent, number>,
): ReturnType<typeof createNormalizer> {
  const note = (event: DeviceEvent, measurements: readonly Measurement[]): void => {
    const index = indexOfEvent.get(event);
    if (index !== undefined) {
      for (const m of measurements) {
        origin.set(m, index);
      }
    }
  };
  return {
    isAsync: true,
    normalize: async (event) => {
      const result = await normalizer.normalize(event);
      note(event, result.measurements);
      return result;
    },
  };
}

function loadErrors(stage: DebugStage, issues: readonly MappingIssue[]): DebugError[] {
  return issues
    .filter((i) => i.severity === 'error')
    .map((i) => ({
      stage,
      code: i.code,
      medtechErrorType: i.medtechErrorType,
      message: i.message,
      line: i.line,
      column: i.column,
      jsonPointer: i.jsonPointer,
    }));
}

function runError(stage: DebugStage, error: PipelineErrorJson, messageIndex: number | undefined): DebugError {
  return {
    stage,
    ...(messageIndex === undefined ? {} : { messageIndex }),
    code: error.code,
    medtechErrorType: error.medtechErrorType,
    message: error.message,
  };
}
