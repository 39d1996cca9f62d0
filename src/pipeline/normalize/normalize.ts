import type { Clock } from '../clock';
import { parseDotNetDateTime } from '../convert/datetime-parse';
import { tokenToDotNetString, tokenToInstant } from '../convert/dotnet-string';
import type { Instant } from '../convert/instant';
import { formatRoundTrip, instantFromEpochMs } from '../convert/instant';
import { ErrorCode, PipelineError, toPipelineError } from '../errors';
import type { DeviceMapping, DeviceTemplate, FieldExtraction } from '../mapping/device-template';
import type { CompiledExpression, SyncExpression } from '../mapping/expressions/expression';
import type { DeviceEvent, Envelope } from '../model/device-event';
import type { Measurement, MeasurementProperty } from '../model/measurement';
import { createBodyDateIndex, toEnvelope } from './envelope';

/** What normalizing one event produced. */
export interface NormalizeResult {
  /**
   * Measurements in emission order: template by template (document order), match by match (§4.1). When the event
   * failed, the measurements produced before the failure are kept, as MedTech keeps them (§8.2).
   */
  readonly measurements: Measurement[];
  /** The failure that stopped the event, if any (the event then belongs in the dead-letter store). */
  readonly error?: PipelineError;
}

/** Turns device events into measurements with one loaded device mapping. */
export interface Normalizer {
  /** True when some expression of the mapping evaluates asynchronously (general JSONata). */
  readonly isAsync: boolean;
  /**
   * Normalizes one event. Never throws: failures are returned with the measurements made before them.
   * Returns a plain result when the mapping is synchronous; otherwise a promise when the event needed an
   * asynchronous evaluation and a plain result when it did not (callers `await` either).
   * @param event - the event
   */
  normalize(event: DeviceEvent): NormalizeResult | Promise<NormalizeResult>;
}

/** Per-event context shared by every template. */
interface EventContext {
  readonly isBodyDate: (s: string) => boolean;
  readonly ingestionTimeUtc: string;
}

type Evaluate = (expression: CompiledExpression) => unknown;

/**
 * Creates a normalizer for a device mapping (`CollectionContent`, medtech-reference §4–§6).
 *
 * @param mapping - a loaded device mapping
 * @param clock - gives the ingestion time of events that carry no enqueued time
 */
export function createNormalizer(mapping: DeviceMapping, clock: Clock): Normalizer {
  const templates = mapping.templates;
  const isAsync = templates.some((t) => t.isAsync);

  const begin = (event: DeviceEvent): { envelope: Envelope; context: EventContext } => {
    const envelope = toEnvelope(event);
    return {
      envelope,
      context: { isBodyDate: createBodyDateIndex(envelope), ingestionTimeUtc: ingestionTime(event, clock) },
    };
  };

  /**
   * Normalizes synchronously for as long as the event needs no asynchronous expression: a template whose
   * expressions are asynchronous (general JSONata) but whose type match selects nothing costs nothing extra. Only an
   * event that reaches an asynchronous evaluation continues in {@link finishAsync}, from that template on, in the
   * same order (so results and the first failure are the same as evaluating the whole event asynchronously).
   */
  const normalizeEvent = (event: DeviceEvent): NormalizeResult | Promise<NormalizeResult> => {
    const measurements: Measurement[] = [];
    let template: DeviceTemplate | undefined;
    try {
      const { envelope, context } = begin(event);
      for (let i = 0; i < templates.length; i++) {
        const current = templates[i] as DeviceTemplate;
        template = current;
        const typeMatch = requireTypeMatch(current);
        if (typeMatch.isAsync) {
          return finishAsync(envelope, context, measurements, i, undefined);
        }
        const matches = typeMatch.selectMany(envelope, context);
        if (matches.length === 0) {
          continue;
        }
        if (current.isAsync) {
          return finishAsync(envelope, context, measurements, i, matches);
        }
        for (const match of matches) {
          const scope = scopeOf(current, envelope, match);
          measurements.push(
            extractMeasurement(current, context, (e) => (e as SyncExpression).selectOne(scope, context)),
          );
        }
      }
      return { measurements };
    } catch (error) {
      return { measurements, error: attribute(error, template) };
    }
  };

  /**
   * The rest of an event from template `from` on, awaiting asynchronous expressions.
   * @param matches - the type match results of template `from` when already evaluated
   */
  const finishAsync = async (
    envelope: Envelope,
    context: EventContext,
    measurements: Measurement[],
    from: number,
    matches: unknown[] | undefined,
  ): Promise<NormalizeResult> => {
    let template: DeviceTemplate | undefined;
    try {
      for (let i = from; i < templates.length; i++) {
        const current = templates[i] as DeviceTemplate;
        template = current;
        const typeMatch = requireTypeMatch(current);
        const selected =
          i === from && matches !== undefined
            ? matches
            : typeMatch.isAsync
              ? await typeMatch.selectMany(envelope, context)
              : typeMatch.selectMany(envelope, context);
        for (const match of selected) {
          const scope = scopeOf(current, envelope, match);
          const evaluate = current.isAsync
            ? await prefetch(current, scope, context)
            : (e: CompiledExpression) => e.selectOne(scope, context);
          measurements.push(extractMeasurement(current, context, evaluate));
        }
      }
      return { measurements };
    } catch (error) {
      return { measurements, error: attribute(error, template) };
    }
  };

  return { isAsync, normalize: normalizeEvent };
}

/** The enqueued time of the event, or now (round-trip UTC form). */
function ingestionTime(event: DeviceEvent, clock: Clock): string {
  const enqueued = event.enqueuedTimeUtc === undefined ? undefined : parseDotNetDateTime(event.enqueuedTimeUtc);
  const instant: Instant = enqueued ?? instantFromEpochMs(clock(), 'utc');
  return formatRoundTrip({ ...instant, kind: 'utc' });
}

function requireTypeMatch(template: DeviceTemplate): CompiledExpression {
  if (template.typeMatch === undefined) {
    throw new PipelineError(ErrorCode.RequiredValueMissing, 'An expression must be set for [TypeMatchExpression]', {
      details: { template: template.typeName, field: 'TypeMatchExpression' },
    });
  }
  return template.typeMatch;
}

/**
 * CalculatedContent evaluates against the envelope with the match added as `matchedToken` (MedTech copies the
 * envelope and adds the member last, §4.2: a shallow copy is equivalent because expressions never mutate); the
 * JsonPathContent family evaluates against the match itself (§4.3).
 */
function scopeOf(template: DeviceTemplate, envelope: Envelope, match: unknown): unknown {
  return template.scope === 'envelope'
    ? {
        Body: envelope.Body,
        Properties: envelope.Properties,
        SystemProperties: envelope.SystemProperties,
        matchedToken: match,
      }
    : match;
}

/**
 * Evaluates every asynchronous expression of a template first, remembering results and failures, so that the
 * synchronous extraction that follows raises exactly the failure MedTech's field order would raise first.
 */
async function prefetch(template: DeviceTemplate, scope: unknown, context: EventContext): Promise<Evaluate> {
  const results = new Map<CompiledExpression, { value: unknown } | { error: unknown }>();
  const fields = [
    template.deviceId,
    template.timestamp,
    template.correlationId,
    template.patientId,
    template.encounterId,
  ];
  for (const field of [...fields, ...template.values]) {
    for (const expression of field?.candidates ?? []) {
      if (expression.isAsync && !results.has(expression)) {
        try {
          results.set(expression, { value: await expression.selectOne(scope, context) });
        } catch (error) {
          results.set(expression, { error });
        }
      }
    }
  }
  return (expression) => {
    if (!expression.isAsync) {
      return expression.selectOne(scope, context);
    }
    const result = results.get(expression);
    if (result === undefined) {
      return undefined;
    }
    if ('error' in result) {
      throw result.error;
    }
    return result.value;
  };
}

/** Builds one measurement from one match, in MedTech's order (§6.1); the first failure aborts. */
function extractMeasurement(template: DeviceTemplate, context: EventContext, evaluate: Evaluate): Measurement {
  const deviceId = extractString(template, template.deviceId, context, evaluate);
  const occurrence = extractInstant(template, template.timestamp, context, evaluate);
  const correlationId =
    template.correlationId === undefined ? null : extractString(template, template.correlationId, context, evaluate);
  const patientId = extractString(template, template.patientId, context, evaluate);
  const encounterId = extractString(template, template.encounterId, context, evaluate);
  const properties: MeasurementProperty[] = [];
  for (const field of template.values) {
    const value = extractString(template, field, context, evaluate);
    if (value !== null) {
      properties.push({ name: field.name, value });
    }
  }
  return {
    type: template.typeName,
    occurrenceTimeUtc: formatRoundTrip(occurrence as Instant),
    ingestionTimeUtc: context.ingestionTimeUtc,
    deviceId: deviceId as string,
    patientId,
    encounterId,
    correlationId,
    properties,
  };
}

function extractString(
  template: DeviceTemplate,
  field: FieldExtraction,
  context: EventContext,
  evaluate: Evaluate,
): string | null {
  return extract(template, field, context, evaluate, toStringValue);
}

function extractInstant(
  template: DeviceTemplate,
  field: FieldExtraction,
  context: EventContext,
  evaluate: Evaluate,
): Instant | null {
  return extract(template, field, context, evaluate, toInstantValue);
}

/** A token as a field's string; `undefined` when it does not count as found. */
function toStringValue(token: unknown, field: FieldExtraction, context: EventContext): string | undefined {
  const value = tokenToDotNetString(token, context.isBodyDate);
  // A null, or for a required field a blank, value does not count as found (§6.2); an optional "" is kept (§6.3).
  return value === null || (field.required && value.trim() === '') ? undefined : value;
}

/** A token as a timestamp; `undefined` for null; throws when it cannot be read as a date and time. */
function toInstantValue(token: unknown, _field: FieldExtraction, context: EventContext): Instant | undefined {
  if (token === null) {
    return undefined;
  }
  const instant = tokenToInstant(token, context.isBodyDate);
  if (instant === undefined) {
    throw new PipelineError(ErrorCode.ValueConversionFailed, 'the value could not be converted to a date and time');
  }
  return instant;
}

/** The longest value a field may take: the largest body (1 MiB) could not hold a longer one. */
const MAX_VALUE_LENGTH = 1_048_576;

/**
 * MedTech's `EvalExpression` (§6.2): tries each expression in order; evaluation errors propagate at once; conversion
 * failures are collected and the next expression is tried; a required field with nothing usable fails with
 * `IncompatibleDataException`, an optional one yields null.
 */
function extract<T>(
  template: DeviceTemplate,
  field: FieldExtraction,
  context: EventContext,
  evaluate: Evaluate,
  convert: (token: unknown, field: FieldExtraction, context: EventContext) => T | undefined,
): T | null {
  if (field.candidates.length === 0) {
    if (field.required) {
      throw requiredValueError(template, field, `An expression must be set for [${field.name}]`);
    }
    return null;
  }
  let failures: string[] | undefined;
  for (const expression of field.candidates) {
    const token = evaluate(expression);
    if (token === undefined) {
      continue;
    }
    if (typeof token === 'string' && token.length > MAX_VALUE_LENGTH) {
      // Only a computed value gets here (a body holds at most 1 MiB): `$pad('', 300000000)` would otherwise become a
      // device id that every later stage copies.
      throw new PipelineError(
        ErrorCode.ExpressionLimitExceeded,
        `The expression ${expression.source} for [${field.name}] produced a value longer than ${MAX_VALUE_LENGTH} characters.`,
        { details: { template: template.typeName, field: field.name, expression: expression.source } },
      );
    }
    let value: T | undefined;
    try {
      value = convert(token, field, context);
    } catch (error) {
      const reason = error instanceof Error ? error.message : 'conversion failed';
      (failures ??= []).push(
        `Encountered an error while extracting value for [${field.name}] using expression ${expression.source}: ${reason}`,
      );
      continue;
    }
    if (value !== undefined) {
      return value;
    }
    if (!field.required) {
      return null;
    }
    (failures ??= []).push(
      `A null or empty value was supplied for the required field [${field.name}] using expression ${expression.source}`,
    );
  }
  if (!field.required) {
    return null;
  }
  throw requiredValueError(
    template,
    field,
    failures === undefined
      ? `Unable to extract required value for [${field.name}] using ${field.candidates.map((c) => c.source).join(',')}`
      : `Unable to extract required value for [${field.name}]: ${failures.join('; ')}`,
  );
}

function requiredValueError(template: DeviceTemplate, field: FieldExtraction, message: string): PipelineError {
  return new PipelineError(ErrorCode.RequiredValueMissing, message, {
    details: {
      template: template.typeName,
      field: field.name,
      expression: field.candidates.map((c) => c.source).join(','),
    },
  });
}

/** Makes sure a failure names the template it happened in (expression engines do not know it). */
function attribute(error: unknown, template: DeviceTemplate | undefined): PipelineError {
  const failure = toPipelineError(error, ErrorCode.ExpressionFailed);
  if (template === undefined || failure.details.template !== undefined) {
    return failure;
  }
  return new PipelineError(failure.code, failure.message, {
    details: { ...failure.details, template: template.typeName },
    cause: failure.cause ?? failure,
    medtechErrorType: failure.medtechErrorType,
    retryable: failure.retryable,
  });
}
