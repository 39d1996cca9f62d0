/**
 * `value[x]` of an Observation or component from the window's values (MedTech's value processors, §9.6) and its
 * merge into an existing value (§9.7).
 */
import type {
  CodeableConcept,
  Coding,
  Observation,
  ObservationComponent,
  Quantity,
  SampledData,
} from '@medplum/fhirtypes';
import { ErrorCode, PipelineError } from '../errors';
import type {
  CodeableConceptValueTemplate,
  FhirCode,
  FhirValueTemplate,
  QuantityValueTemplate,
  SampledDataValueTemplate,
  StringValueTemplate,
} from '../mapping/fhir-template';
import { compareInstants, type Instant } from '../convert/instant';
import type { WindowBounds } from '../group/window';
import { cloneJson } from './clone-json';
import { parseDecimalValue } from './decimal-value';
import {
  buildSampledData,
  MAX_SAMPLED_DATA_SLOTS,
  mergeTimeValues,
  sampledDataToTimeValues,
  type TimedValue,
} from './sampled-data';

/** Anything that carries a `value[x]`. */
export type ValueHolder = Observation | ObservationComponent;

/** Every R4 `Observation.value[x]` / `Observation.component.value[x]` member name. */
const VALUE_KEYS = [
  'valueQuantity',
  'valueCodeableConcept',
  'valueString',
  'valueBoolean',
  'valueInteger',
  'valueRange',
  'valueRatio',
  'valueSampledData',
  'valueTime',
  'valueDateTime',
  'valuePeriod',
] as const;

type ValueKey = (typeof VALUE_KEYS)[number];

/** Names used in error messages (mapping content only, never data). */
export interface ValueContext {
  /** The template's `typeName`. */
  readonly template: string;
}

/**
 * Sets the holder's `value[x]` from the window's values (create, §9.6).
 * @param holder - the Observation or component to write into
 * @param template - the value template
 * @param values - the window's values of `template.valueName`, time-sorted, at least one
 * @param period - the range a SampledData is laid out over (the window for a new Observation)
 * @param ctx - names for error messages
 */
export function setNewValue(
  holder: ValueHolder,
  template: FhirValueTemplate,
  values: readonly TimedValue[],
  period: WindowBounds,
  ctx: ValueContext,
): void {
  switch (template.valueType) {
    case 'Quantity':
      replaceValue(holder, 'valueQuantity', createQuantity(template, values, undefined, ctx));
      return;
    case 'SampledData':
      replaceValue(holder, 'valueSampledData', createSampledData(template, values, period, ctx));
      return;
    case 'String':
      replaceValue(holder, 'valueString', createString(template, values, ctx));
      return;
    case 'CodeableConcept':
      replaceValue(holder, 'valueCodeableConcept', createCodeableConcept(template));
      return;
  }
}

/**
 * Merges the window's values into the holder's existing `value[x]` (§9.7): Quantity, String and CodeableConcept
 * are replaced (Quantity `min`/`max` aggregations also take the stored value into account); SampledData is decoded
 * at the stored start, merged by time and re-encoded over the widened period. A stored value of another type, or a
 * SampledData with more than one dimension, is `NOT_SUPPORTED`. A holder without any value gets a new one.
 * @param holder - the (copied) Observation or component to merge into
 * @param template - the value template
 * @param values - the window's values, time-sorted, at least one
 * @param storedPeriod - the stored Observation's effective period (SampledData decoding origin)
 * @param mergedPeriod - the widened effective period (SampledData encoding range)
 * @param ctx - names for error messages
 */
export function mergeIntoValue(
  holder: ValueHolder,
  template: FhirValueTemplate,
  values: readonly TimedValue[],
  storedPeriod: WindowBounds,
  mergedPeriod: WindowBounds,
  ctx: ValueContext,
): void {
  const present = VALUE_KEYS.find((k) => holder[k] !== undefined);
  if (present === undefined) {
    setNewValue(holder, template, values, mergedPeriod, ctx);
    return;
  }
  const expected = valueKeyOf(template);
  if (present !== expected) {
    throw notSupported(ctx, template, `the stored value is ${present}, the template produces ${expected}`);
  }
  switch (template.valueType) {
    case 'Quantity':
      holder.valueQuantity = createQuantity(template, values, holder.valueQuantity, ctx);
      return;
    case 'SampledData':
      holder.valueSampledData = mergeSampledData(
        template,
        holder.valueSampledData as SampledData,
        values,
        storedPeriod,
        mergedPeriod,
        ctx,
      );
      return;
    case 'String':
      holder.valueString = createString(template, values, ctx);
      return;
    case 'CodeableConcept':
      holder.valueCodeableConcept = createCodeableConcept(template);
      return;
  }
}

/**
 * Combines a value of another stored version of the same Observation into `target` (create-race recovery, where a
 * blind create replaced a version whose readings must not be lost). SampledData: both decoded at their own starts,
 * merged by time with `target` winning at equal times, re-encoded over the merged period. Other types: `target`'s
 * value is kept; `other`'s is taken only when `target` has none.
 * @param target - the (copied) holder to combine into
 * @param other - the holder of the other version
 * @param template - the value template
 * @param targetStart - the start `target`'s SampledData is laid out from
 * @param otherStart - the start `other`'s SampledData is laid out from
 * @param mergedPeriod - the merged effective period
 * @param ctx - names for error messages
 */
export function combineStoredValue(
  target: ValueHolder,
  other: ValueHolder,
  template: FhirValueTemplate,
  targetStart: Instant,
  otherStart: Instant,
  mergedPeriod: WindowBounds,
  ctx: ValueContext,
): void {
  const otherKey = VALUE_KEYS.find((k) => other[k] !== undefined);
  if (otherKey === undefined) {
    relayoutSampledData(target, template, targetStart, mergedPeriod, ctx);
    return;
  }
  const targetKey = VALUE_KEYS.find((k) => target[k] !== undefined);
  if (targetKey !== undefined && targetKey !== otherKey) {
    throw notSupported(ctx, template, `the stored versions hold ${targetKey} and ${otherKey}`);
  }
  if (template.valueType !== 'SampledData' || otherKey !== 'valueSampledData') {
    if (targetKey === undefined) {
      replaceValue(target, otherKey, cloneJson(other[otherKey]) as NonNullable<ValueHolder[typeof otherKey]>);
    }
    return;
  }
  const theirs = other.valueSampledData as SampledData;
  const ours = target.valueSampledData;
  const periodMs = checkedPeriod(template, ctx);
  const decode = (sd: SampledData, start: Instant): TimedValue[] =>
    sd.data === undefined || sd.data.trim() === '' ? [] : sampledDataToTimeValues(sd.data, start, periodMs);
  const merged = mergeTimeValues(decode(theirs, otherStart), ours === undefined ? [] : decode(ours, targetStart));
  target.valueSampledData = {
    ...(ours ?? cloneJson(theirs)),
    data: encodeSampledData(merged, mergedPeriod, periodMs, template, ctx),
  };
}

/**
 * Lays a stored SampledData out again when the effective period now starts earlier than the data (the period grew
 * while this value got no new readings): without it, the next decode from the new start would shift every
 * reading. Does nothing when the start did not move, so output stays MedTech's in every other case.
 * @param holder - the (copied) holder
 * @param template - the value template
 * @param storedStart - the start the data is laid out from now
 * @param mergedPeriod - the new effective period
 * @param ctx - names for error messages
 */
export function relayoutSampledData(
  holder: ValueHolder,
  template: FhirValueTemplate,
  storedStart: Instant,
  mergedPeriod: WindowBounds,
  ctx: ValueContext,
): void {
  const sd = holder.valueSampledData;
  if (
    compareInstants(mergedPeriod.start, storedStart) >= 0 ||
    template.valueType !== 'SampledData' ||
    sd?.data === undefined ||
    sd.data.trim() === '' ||
    sd.dimensions > 1
  ) {
    return;
  }
  const periodMs = checkedPeriod(template, ctx);
  const values = sampledDataToTimeValues(sd.data, storedStart, periodMs);
  holder.valueSampledData = { ...sd, data: encodeSampledData(values, mergedPeriod, periodMs, template, ctx) };
}

/**
 * FHIR codings from mapping codes; members absent in the mapping stay absent.
 * @param codes - the mapping's codes
 */
export function toCodings(codes: readonly FhirCode[]): Coding[] {
  return codes.map((c) => {
    const coding: Coding = {};
    if (c.system !== undefined) {
      coding.system = c.system;
    }
    if (c.code !== undefined) {
      coding.code = c.code;
    }
    if (c.display !== undefined) {
      coding.display = c.display;
    }
    return coding;
  });
}

function valueKeyOf(template: FhirValueTemplate): ValueKey {
  switch (template.valueType) {
    case 'Quantity':
      return 'valueQuantity';
    case 'SampledData':
      return 'valueSampledData';
    case 'String':
      return 'valueString';
    case 'CodeableConcept':
      return 'valueCodeableConcept';
  }
}

/** Sets one `value[x]` member and removes any other (a holder has at most one). */
function replaceValue<K extends ValueKey>(holder: ValueHolder, key: K, value: NonNullable<ValueHolder[K]>): void {
  for (const k of VALUE_KEYS) {
    if (k !== key && holder[k] !== undefined) {
      Reflect.deleteProperty(holder, k);
    }
  }
  (holder as Record<K, unknown>)[key] = value;
}

/**
 * One Quantity per window. MedTech's code demands exactly one value; its documentation (and this project, by
 * default) takes the first. `last`, `min`, `max`, `avg` are opt-in. On merge, `min`/`max` include the stored value
 * so that they hold across batches; the others replace it, as MedTech replaces Quantities.
 */
function createQuantity(
  template: QuantityValueTemplate,
  values: readonly TimedValue[],
  stored: Quantity | undefined,
  ctx: ValueContext,
): Quantity {
  const parse = (v: TimedValue): number => {
    const n = parseDecimalValue(v.value);
    if (n === undefined) {
      throw new PipelineError(
        ErrorCode.InvalidQuantityValue,
        `Quantity value '${template.valueName ?? ''}' of template '${ctx.template}' is not a decimal number.`,
        { details: { template: ctx.template, field: template.valueName } },
      );
    }
    return n;
  };
  let value: number;
  switch (template.aggregation) {
    case 'first':
      value = parse(values[0] as TimedValue);
      break;
    case 'last':
      value = parse(values[values.length - 1] as TimedValue);
      break;
    case 'min':
    case 'max': {
      const pick = template.aggregation === 'min' ? Math.min : Math.max;
      value = values.map(parse).reduce((a, b) => pick(a, b));
      if (typeof stored?.value === 'number') {
        value = pick(value, stored.value);
      }
      break;
    }
    case 'avg':
      value = values.map(parse).reduce((a, b) => a + b, 0) / values.length;
      break;
  }
  const quantity: Quantity = { value };
  if (template.unit !== undefined) {
    quantity.unit = template.unit;
  }
  if (template.system !== undefined) {
    quantity.system = template.system;
  }
  if (template.code !== undefined) {
    quantity.code = template.code;
  }
  return quantity;
}

/** Exactly one value (MedTech), unless the template opts into `first` or `last`. */
function createString(template: StringValueTemplate, values: readonly TimedValue[], ctx: ValueContext): string {
  if (values.length > 1 && template.aggregation === undefined) {
    throw new PipelineError(
      ErrorCode.InvalidStringValue,
      `String value '${template.valueName ?? ''}' of template '${ctx.template}' expects 1 value per window, ` +
        `received ${values.length}; set "aggregation": "first" or "last" to pick one.`,
      { details: { template: ctx.template, field: template.valueName, count: values.length } },
    );
  }
  const chosen = template.aggregation === 'last' ? values[values.length - 1] : values[0];
  return (chosen as TimedValue).value;
}

/** The template's fixed concept; the measured value only has to exist. */
function createCodeableConcept(template: CodeableConceptValueTemplate): CodeableConcept {
  const concept: CodeableConcept = {};
  if (template.codes.length > 0) {
    concept.coding = toCodings(template.codes);
  }
  if (template.text !== undefined) {
    concept.text = template.text;
  }
  return concept;
}

function createSampledData(
  template: SampledDataValueTemplate,
  values: readonly TimedValue[],
  period: WindowBounds,
  ctx: ValueContext,
): SampledData {
  const origin: Quantity = { value: 0 };
  if (template.unit !== undefined) {
    origin.unit = template.unit;
  }
  return {
    origin,
    period: template.defaultPeriod,
    dimensions: 1,
    data: encodeSampledData(values, period, checkedPeriod(template, ctx), template, ctx),
  };
}

/** Only `data` changes; origin, period and dimensions of the stored SampledData are kept, as in MedTech. */
function mergeSampledData(
  template: SampledDataValueTemplate,
  stored: SampledData,
  values: readonly TimedValue[],
  storedPeriod: WindowBounds,
  mergedPeriod: WindowBounds,
  ctx: ValueContext,
): SampledData {
  if (stored.dimensions > 1) {
    throw notSupported(ctx, template, 'the stored SampledData has more than 1 dimension');
  }
  const periodMs = checkedPeriod(template, ctx);
  // A stored SampledData without data has nothing to keep (MedTech fails on it with an argument error).
  const storedValues =
    stored.data === undefined || stored.data.trim() === ''
      ? []
      : sampledDataToTimeValues(stored.data, storedPeriod.start, periodMs);
  const merged = mergeTimeValues(storedValues, values);
  return { ...stored, data: encodeSampledData(merged, mergedPeriod, periodMs, template, ctx) };
}

/**
 * Encodes a SampledData over a window, refusing windows that would need more than {@link MAX_SAMPLED_DATA_SLOTS}
 * slots — a `defaultPeriod` of 1 ms over a daily window is 86.4 million slots (MedTech would build the string until
 * memory runs out; no FHIR service stores it), and a correlation window is as long as its readings are apart — and
 * readings that are not single tokens.
 */
function encodeSampledData(
  values: readonly TimedValue[],
  window: WindowBounds,
  periodMs: number,
  template: SampledDataValueTemplate,
  ctx: ValueContext,
): string {
  const slots = Math.floor((window.end.epochMs - window.start.epochMs) / periodMs) + 1;
  if (slots > MAX_SAMPLED_DATA_SLOTS) {
    throw new PipelineError(
      ErrorCode.FhirTemplateInvalid,
      `SampledData value '${template.valueName ?? ''}' of template '${ctx.template}' would need ${slots} slots of ` +
        `defaultPeriod ${periodMs} ms for its window; at most ${MAX_SAMPLED_DATA_SLOTS} are written.`,
      { details: { template: ctx.template, field: 'defaultPeriod', slots, limit: MAX_SAMPLED_DATA_SLOTS } },
    );
  }
  for (const v of values) {
    // Values go in verbatim (as in MedTech), and `data` is split at single spaces: an empty value or one with white
    // space would shift every later slot, and the next merge would file readings under the wrong times.
    if (v.value === '' || /\s/.test(v.value)) {
      throw new PipelineError(
        ErrorCode.MeasurementInvalid,
        `SampledData value '${template.valueName ?? ''}' of template '${ctx.template}' has a reading that is empty ` +
          `or contains white space; it cannot be a SampledData token.`,
        { details: { template: ctx.template, field: template.valueName } },
      );
    }
  }
  try {
    return buildSampledData(values, window.start, window.end, periodMs);
  } catch (error) {
    if (!(error instanceof RangeError)) {
      throw error;
    }
    // The last slot ends past 9999-12-31 (MedTech's DateTime arithmetic throws there too): a reading at the very end
    // of time, not a bug.
    throw new PipelineError(
      ErrorCode.MeasurementInvalid,
      `SampledData value '${template.valueName ?? ''}' of template '${ctx.template}' cannot be laid out: its window ` +
        `reaches past the last representable instant (9999-12-31).`,
      { details: { template: ctx.template, field: template.valueName }, cause: error },
    );
  }
}

/** A slot length that terminates the encoding loop (the loader should already have rejected others). */
function checkedPeriod(template: SampledDataValueTemplate, ctx: ValueContext): number {
  if (!Number.isFinite(template.defaultPeriod) || template.defaultPeriod <= 0) {
    throw new PipelineError(
      ErrorCode.FhirTemplateInvalid,
      `SampledData value '${template.valueName ?? ''}' of template '${ctx.template}' needs a positive defaultPeriod.`,
      { details: { template: ctx.template, field: 'defaultPeriod' } },
    );
  }
  return template.defaultPeriod;
}

function notSupported(ctx: ValueContext, template: FhirValueTemplate, reason: string): PipelineError {
  return new PipelineError(
    ErrorCode.NotSupported,
    `Cannot merge value '${template.valueName ?? ''}' of template '${ctx.template}': ${reason}.`,
    { details: { template: ctx.template, field: template.valueName } },
  );
}
