/**
 * Renderings of a {@link StackSnapshot}: the live progress line, the exit summary, Prometheus text for
 * `GET /metrics` with `Accept: text/plain`, and the replay progress bar. Pure functions of the snapshot.
 */
import type { StackSnapshot } from './stack-metrics';

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat('en-US', { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/**
 * A count with thousands separators.
 * @param n - the count
 */
export function formatCount(n: number): string {
  return integer.format(n);
}

/**
 * A duration for humans: `850ms`, `1.2s`, `2m05s`.
 * @param ms - milliseconds
 */
export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return `${Math.round(ms)}ms`;
  }
  if (ms < 60_000) {
    return `${oneDecimal.format(ms / 1000)}s`;
  }
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
}

function errorsPart(s: StackSnapshot, maxTypes: number): string {
  if (s.errors.total === 0) {
    return 'errors 0';
  }
  const types = Object.entries(s.errors.byType);
  const shown = types.slice(0, maxTypes).map(([type, n]) => `${type} ${formatCount(n)}`);
  if (types.length > maxTypes) {
    shown.push(`+${types.length - maxTypes} more`);
  }
  return `errors ${formatCount(s.errors.total)} (${shown.join(', ')})`;
}

function latencyPart(s: StackSnapshot): string {
  const { p50, p99 } = s.latencyMs;
  return p50 === undefined || p99 === undefined
    ? 'latency -'
    : `latency p50 ${formatDuration(p50)} p99 ${formatDuration(p99)}`;
}

/**
 * The live progress line (no line break). When it is wider than `maxWidth`, the least telling parts are left out
 * (queue, groups, measurements, dead letters, latency, errors, in that order) rather than cutting the line.
 * @param s - the snapshot
 * @param maxWidth - the terminal's width, if the line must fit one
 */
export function formatProgressLine(s: StackSnapshot, maxWidth = Number.POSITIVE_INFINITY): string {
  const o = s.observations;
  // [text, priority]: the lower the priority, the sooner a part is dropped to fit.
  const parts: [string, number][] = [
    [`${formatCount(s.events.processed)} events (${oneDecimal.format(s.events.perSecond)}/s)`, 9],
    [`${formatCount(s.measurements)} measurements`, 3],
    [`${formatCount(s.groups)} groups`, 2],
    [
      `Observations ${formatCount(o.created)} created ${formatCount(o.updated)} updated ${formatCount(o.unchanged)} unchanged`,
      8,
    ],
    [errorsPart(s, 2), 7],
    [`dead-lettered ${formatCount(s.deadLettered.total)}`, 5],
    [latencyPart(s), 6],
    ...(s.events.queued > 0 ? [[`queued ${formatCount(s.events.queued)}`, 1] as [string, number]] : []),
  ];
  const join = (list: readonly [string, number][]): string => list.map(([text]) => text).join(' | ');
  let kept = parts;
  while (kept.length > 1 && join(kept).length > maxWidth) {
    const lowest = Math.min(...kept.map(([, priority]) => priority));
    kept = kept.filter(([, priority]) => priority !== lowest);
  }
  return join(kept);
}

/**
 * The summary printed on exit, one fact per line.
 * @param s - the snapshot
 */
export function formatSummary(s: StackSnapshot): string {
  const o = s.observations;
  const lines = [
    `Ran ${formatDuration(s.uptimeSeconds * 1000)}: ${formatCount(s.events.accepted)} events accepted, ${formatCount(s.events.processed)} processed in ${formatCount(s.batches)} batches (${formatCount(s.events.dropped)} matched no template)`,
    `  ${formatCount(s.measurements)} measurements in ${formatCount(s.groups)} groups`,
    `  Observations: ${formatCount(o.created)} created, ${formatCount(o.updated)} updated, ${formatCount(o.unchanged)} unchanged`,
    `  ${errorsPart(s, Number.POSITIVE_INFINITY)}`,
    `  dead-lettered ${formatCount(s.deadLettered.total)} (normalization ${formatCount(s.deadLettered.byStage.Normalization)}, FHIR conversion ${formatCount(s.deadLettered.byStage.FHIRConversion)})`,
    `  device-to-FHIR ${latencyPart(s)}${s.latencyMs.max === undefined ? '' : ` max ${formatDuration(s.latencyMs.max)}`}`,
  ];
  if (s.rejectedRequests.total > 0) {
    const reasons = Object.entries(s.rejectedRequests.byReason).map(([r, n]) => `${r} ${formatCount(n)}`);
    lines.push(`  ingest requests refused: ${formatCount(s.rejectedRequests.total)} (${reasons.join(', ')})`);
  }
  if (s.deadLettered.writeFailures > 0) {
    lines.push(
      `  NOT STORED: ${formatCount(s.deadLettered.writeFailures)} dead letters could not be written (see above)`,
    );
  }
  return lines.join('\n');
}

/**
 * A text progress bar: `[=========>          ]  45%`.
 * @param done - items done
 * @param total - items in all
 * @param width - characters between the brackets
 */
export function formatBar(done: number, total: number, width = 30): string {
  const fraction = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.floor(fraction * width);
  const bar = filled >= width ? '='.repeat(width) : `${'='.repeat(filled)}>${' '.repeat(width - filled - 1)}`;
  return `[${bar}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

/** Prometheus label values escape backslash, quote and newline. */
const label = (value: string): string => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * The snapshot in the Prometheus text exposition format 0.0.4.
 * See: https://prometheus.io/docs/instrumenting/exposition_formats/
 * @param s - the snapshot
 */
export function formatPrometheus(s: StackSnapshot): string {
  const out: string[] = [];
  const metric = (
    name: string,
    type: 'counter' | 'gauge' | 'summary',
    help: string,
    samples: readonly (readonly [labels: string, value: number])[],
  ): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) {
      out.push(`${name}${labels === '' ? '' : `{${labels}}`} ${Number.isFinite(value) ? value : 0}`);
    }
  };
  metric('iomt_uptime_seconds', 'gauge', 'Seconds since the stack started.', [['', s.uptimeSeconds]]);
  metric('iomt_events_accepted_total', 'counter', 'Device events accepted by the ingest path.', [
    ['', s.events.accepted],
  ]);
  metric('iomt_incoming_messages_total', 'counter', 'Device events run through the pipeline (IncomingMessages).', [
    ['', s.events.processed],
  ]);
  metric('iomt_events_queued', 'gauge', 'Events accepted and not yet processed.', [['', s.events.queued]]);
  metric('iomt_dropped_messages_total', 'counter', 'Events that matched no template (DroppedEvent).', [
    ['', s.events.dropped],
  ]);
  metric('iomt_batches_total', 'counter', 'Batches processed.', [['', s.batches]]);
  metric('iomt_measurements_total', 'counter', 'Measurements normalized (Measurements).', [['', s.measurements]]);
  metric('iomt_message_groups_total', 'counter', 'Measurement groups (MessageGroups).', [['', s.groups]]);
  metric('iomt_fhir_resources_saved_total', 'counter', 'Observations saved, by outcome (FhirResourcesSaved).', [
    ['outcome="Created"', s.observations.created],
    ['outcome="Updated"', s.observations.updated],
    ['outcome="NoOperation"', s.observations.unchanged],
  ]);
  metric(
    'iomt_errors_total',
    'counter',
    'Errors by MedTech error type (TotalErrors).',
    Object.entries(s.errors.byType).map(([type, n]) => [`error_type="${label(type)}"`, n] as const),
  );
  metric('iomt_dead_lettered_items_total', 'counter', 'Items written to the dead-letter store, by stage.', [
    ['stage="Normalization"', s.deadLettered.byStage.Normalization],
    ['stage="FHIRConversion"', s.deadLettered.byStage.FHIRConversion],
  ]);
  metric('iomt_dead_letter_write_failures_total', 'counter', 'Dead letters that could not be stored.', [
    ['', s.deadLettered.writeFailures],
  ]);
  metric(
    'iomt_ingest_rejected_requests_total',
    'counter',
    'Ingest requests refused, by reason.',
    Object.entries(s.rejectedRequests.byReason).map(([reason, n]) => [`reason="${label(reason)}"`, n] as const),
  );
  metric(
    'iomt_device_to_fhir_latency_ms',
    'summary',
    'Enqueued time of the earliest event of a window to its save, milliseconds.',
    [
      ...(s.latencyMs.p50 === undefined ? [] : [['quantile="0.5"', s.latencyMs.p50] as const]),
      ...(s.latencyMs.p99 === undefined ? [] : [['quantile="0.99"', s.latencyMs.p99] as const]),
    ],
  );
  out.push(
    `iomt_device_to_fhir_latency_ms_sum ${s.latencyMs.sum}`,
    `iomt_device_to_fhir_latency_ms_count ${s.latencyMs.count}`,
  );
  return `${out.join('\n')}\n`;
}
