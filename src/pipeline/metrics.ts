/**
 * Metrics leave the core through one port with a closed catalogue of names and dimensions. The names are the ones
 * MedTech shows in the Azure portal, so dashboards and alerts carry over; dimensions never hold patient or device
 * identifiers.
 */

/** The metric catalogue. */
export const Metric = {
  /** One per inbound device event. */
  IncomingMessages: 'IncomingMessages',
  /** One per event that produced at least one measurement. */
  NormalizedMessages: 'NormalizedMessages',
  /** One per event that produced nothing and did not fail (MedTech `DroppedEvent`). */
  DroppedMessages: 'DroppedMessages',
  /** One per measurement produced. */
  Measurements: 'Measurements',
  /** One per measurement group (device, patient, encounter, correlation id, type, window). */
  MessageGroups: 'MessageGroups',
  /** One per Observation written or found unchanged; dimension `outcome`. */
  FhirResourcesSaved: 'FhirResourcesSaved',
  /** One per optimistic-concurrency conflict met while saving. */
  FhirContention: 'FhirContention',
  /** One per error; dimensions `errorType` (MedTech error type), `errorCategory`, `severity`, `stage`. */
  TotalErrors: 'TotalErrors',
  /** One per item written to the dead-letter store; dimension `stage`. */
  DeadLetteredItems: 'DeadLetteredItems',
  /** Duration of normalizing one batch, ms. */
  NormalizeLatencyMs: 'NormalizeLatencyMs',
  /** Duration of grouping one batch, ms. */
  GroupLatencyMs: 'GroupLatencyMs',
  /** Duration of transforming and saving one chunk of groups, ms. */
  PersistLatencyMs: 'PersistLatencyMs',
  /** Enqueued time of an event to the moment its Observation was saved, ms. */
  DeviceToFhirLatencyMs: 'DeviceToFhirLatencyMs',
} as const;

/** A metric name. */
export type Metric = (typeof Metric)[keyof typeof Metric];

/** Pipeline stages, MedTech's `Operation` names. */
export type Stage = 'Normalization' | 'Grouping' | 'FHIRConversion' | 'Setup';

/** The closed set of dimensions. */
export interface Dimensions {
  readonly stage?: Stage;
  readonly errorType?: string;
  readonly errorCategory?: string;
  readonly severity?: string;
  readonly partition?: string;
  readonly outcome?: 'Created' | 'Updated' | 'NoOperation';
  readonly resourceType?: string;
}

/** Where metrics go. The Application Insights adapter implements it; tests record. */
export interface MetricsSink {
  /**
   * Adds `value` to a counter.
   * @param metric - the metric
   * @param value - the increment
   * @param dimensions - dimensions from the closed set
   */
  count(metric: Metric, value: number, dimensions?: Dimensions): void;
  /**
   * Records one observation of a duration or size.
   * @param metric - the metric
   * @param value - the measured value
   * @param dimensions - dimensions from the closed set
   */
  record(metric: Metric, value: number, dimensions?: Dimensions): void;
}

/** A sink that drops everything (the default when no telemetry is configured). */
export const noopMetrics: MetricsSink = {
  count: () => undefined,
  record: () => undefined,
};
