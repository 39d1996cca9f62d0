import type { CompiledExpression } from './expressions/expression';
import type { DeviceTemplateKind } from './template-type-names';

/**
 * One field of a measurement (`DeviceIdExpression`, a `valueName`, …) and the expressions that may yield it, tried
 * in order (only the IoT Hub timestamp has two). An empty list means "no expression set" (§6.2).
 */
export interface FieldExtraction {
  /** The name used in error messages: `DeviceIdExpression`, `TimestampExpression`, … or the value's `valueName`. */
  readonly name: string;
  readonly candidates: readonly CompiledExpression[];
  readonly required: boolean;
}

/** A device template after loading: every expression compiled, every rule decided. */
export interface DeviceTemplate {
  readonly kind: DeviceTemplateKind;
  /** Copied verbatim into `Measurement.type`. */
  readonly typeName: string;
  /** Index of the template in the collection (for messages when several share a typeName). */
  readonly index: number;
  /** `undefined` when the expression is blank: every event then fails with "An expression must be set". */
  readonly typeMatch: CompiledExpression | undefined;
  /**
   * `match`: the other expressions are evaluated against the matched token itself (JsonPathContent family);
   * `envelope`: against the envelope with the match added as `matchedToken` (CalculatedContent, §4.2).
   */
  readonly scope: 'match' | 'envelope';
  readonly deviceId: FieldExtraction;
  readonly timestamp: FieldExtraction;
  /** Present when a correlation id expression is set; its value is then required. */
  readonly correlationId: FieldExtraction | undefined;
  readonly patientId: FieldExtraction;
  readonly encounterId: FieldExtraction;
  readonly values: readonly FieldExtraction[];
  /** True when any expression evaluates asynchronously (general JSONata). */
  readonly isAsync: boolean;
}

/** A loaded device mapping (`CollectionContent`). */
export interface DeviceMapping {
  /** Templates in document order; every one is evaluated for every event (§4.1). */
  readonly templates: readonly DeviceTemplate[];
}
