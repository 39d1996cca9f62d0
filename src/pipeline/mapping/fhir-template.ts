/**
 * The FHIR destination mapping after loading and validation: MedTech's `CollectionFhir` of `CodeValueFhir`
 * templates (medtech-reference §7). Produced by the FHIR mapping loader, consumed by grouping and transformation.
 */

/** Observation windows (§9.4): Single (0), Hourly (60), Daily (1440), CorrelationId (-1). */
export const PeriodInterval = {
  Single: 0,
  Hourly: 60,
  Daily: 1440,
  CorrelationId: -1,
} as const;

/** A supported `periodInterval`. */
export type PeriodInterval = (typeof PeriodInterval)[keyof typeof PeriodInterval];

/** A coding as written in a mapping; absent members stay absent in the FHIR output. */
export interface FhirCode {
  readonly code?: string;
  readonly system?: string;
  readonly display?: string;
}

/** A category entry of a template. */
export interface FhirCategory {
  readonly text?: string;
  readonly codes?: readonly FhirCode[];
}

/**
 * How several values of one name inside one window become one Quantity (or String). MedTech's docs promise the
 * first value (its code fails instead, §14.3); users asked for the others (iomt-fhir #82). Default `first`.
 */
export type ValueAggregation = 'first' | 'last' | 'min' | 'max' | 'avg';

interface ValueTemplateBase {
  /** The measurement property whose values feed this value. A missing name means the value is never found. */
  readonly valueName?: string;
}

/** `valueQuantity`. */
export interface QuantityValueTemplate extends ValueTemplateBase {
  readonly valueType: 'Quantity';
  readonly unit?: string;
  readonly system?: string;
  readonly code?: string;
  readonly aggregation: ValueAggregation;
}

/** `valueSampledData`: one slot per `defaultPeriod` milliseconds of the window. */
export interface SampledDataValueTemplate extends ValueTemplateBase {
  readonly valueType: 'SampledData';
  /** Slot length in milliseconds (a decimal in MedTech). */
  readonly defaultPeriod: number;
  readonly unit?: string;
}

/**
 * `valueString`. Several values in one window are an error (as in MedTech) unless `aggregation` is `first` or `last`.
 */
export interface StringValueTemplate extends ValueTemplateBase {
  readonly valueType: 'String';
  readonly aggregation?: 'first' | 'last';
}

/** `valueCodeableConcept`: fixed codes, written when the named value exists in the window. */
export interface CodeableConceptValueTemplate extends ValueTemplateBase {
  readonly valueType: 'CodeableConcept';
  readonly text?: string;
  readonly codes: readonly FhirCode[];
}

/** One of the four value types. */
export type FhirValueTemplate =
  QuantityValueTemplate | SampledDataValueTemplate | StringValueTemplate | CodeableConceptValueTemplate;

/** An Observation component (e.g. systolic and diastolic of a blood pressure). */
export interface FhirComponentTemplate {
  readonly codes: readonly FhirCode[];
  readonly value: FhirValueTemplate;
}

/** A `CodeValueFhir` template. */
export interface CodeValueFhirTemplate {
  /** Matched case-insensitively against the measurement type. */
  readonly typeName: string;
  readonly periodInterval: PeriodInterval;
  readonly codes: readonly FhirCode[];
  readonly category?: readonly FhirCategory[];
  readonly value?: FhirValueTemplate;
  readonly components: readonly FhirComponentTemplate[];
}

/** A loaded FHIR destination mapping. */
export interface FhirMapping {
  /** Templates in document order. */
  readonly templates: readonly CodeValueFhirTemplate[];
  /**
   * The template for a measurement type, matched case-insensitively (§7), or `undefined`.
   * @param measurementType - the measurement's `type`
   */
  templateFor(measurementType: string): CodeValueFhirTemplate | undefined;
}
