import { Metric } from '../../../src/pipeline';
import {
  formatBar,
  formatDuration,
  formatProgressLine,
  formatPrometheus,
  formatSummary,
} from '../../../src/local/stack/progress-format';
import { StackMetrics } from '../../../src/local/stack/stack-metrics';

function busyMetrics(): StackMetrics {
  let now = 0;
  const metrics = new StackMetrics(() => now);
  metrics.observeQueue(() => 7);
  metrics.accepted(1250);
  metrics.count(Metric.IncomingMessages, 1234, { partition: '0' });
  metrics.count(Metric.Measurements, 2468);
  metrics.count(Metric.DroppedMessages, 4);
  metrics.count(Metric.MessageGroups, 1100);
  metrics.count(Metric.FhirResourcesSaved, 120, { outcome: 'Created' });
  metrics.count(Metric.FhirResourcesSaved, 975, { outcome: 'Updated' });
  metrics.count(Metric.FhirResourcesSaved, 2, { outcome: 'NoOperation' });
  metrics.count(Metric.TotalErrors, 2, { errorType: 'IncompatibleDataException', stage: 'Normalization' });
  metrics.count(Metric.TotalErrors, 1, { errorType: 'DeviceNotFoundException', stage: 'FHIRConversion' });
  metrics.count(Metric.DeadLetteredItems, 2, { stage: 'Normalization' });
  metrics.count(Metric.DeadLetteredItems, 1, { stage: 'FHIRConversion' });
  metrics.record(Metric.DeviceToFhirLatencyMs, 850);
  metrics.record(Metric.DeviceToFhirLatencyMs, 1200);
  metrics.record(Metric.PersistLatencyMs, 99_999); // not a latency the stack shows
  metrics.batchProcessed();
  metrics.rejected('malformed');
  now = 5_000;
  return metrics;
}

describe('StackMetrics', () => {
  it('aggregates the pipeline metrics and its own counters into one snapshot', () => {
    const s = busyMetrics().snapshot();
    expect(s).toMatchObject({
      uptimeSeconds: 5,
      events: { accepted: 1250, processed: 1234, queued: 7, dropped: 4 },
      batches: 1,
      measurements: 2468,
      groups: 1100,
      observations: { created: 120, updated: 975, unchanged: 2 },
      errors: { total: 3, byType: { IncompatibleDataException: 2, DeviceNotFoundException: 1 } },
      deadLettered: { total: 3, byStage: { Normalization: 2, FHIRConversion: 1 }, writeFailures: 0 },
      rejectedRequests: { total: 1, byReason: { malformed: 1 } },
      latencyMs: { count: 2, sum: 2050, max: 1200 },
    });
    expect(s.events.perSecond).toBeCloseTo(246.8);
    expect(Object.keys(s.errors.byType)).toEqual(['IncompatibleDataException', 'DeviceNotFoundException']);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});

describe('progress renderings', () => {
  it('the progress line shows every counter of the brief', () => {
    const line = formatProgressLine(busyMetrics().snapshot());
    expect(line).toMatch(/^1,234 events \(246\.8\/s\) \| 2,468 measurements \| 1,100 groups \| /);
    expect(line).toContain('Observations 120 created 975 updated 2 unchanged');
    expect(line).toContain('errors 3 (IncompatibleDataException 2, DeviceNotFoundException 1)');
    expect(line).toContain('dead-lettered 3');
    expect(line).toMatch(/latency p50 8\d\dms p99 1\.2s/);
    expect(line).toContain('queued 7');
    expect(line).not.toContain('\n');
  });

  it('a narrow terminal gets the most telling parts of the line', () => {
    const snapshot = busyMetrics().snapshot();
    expect(formatProgressLine(snapshot, 79)).toBe(
      '1,234 events (246.8/s) | Observations 120 created 975 updated 2 unchanged',
    );
    const wide = formatProgressLine(snapshot, 200);
    expect(wide).toContain('latency');
    expect(wide).not.toContain('queued');
    expect(wide.length).toBeLessThanOrEqual(200);
    expect(formatProgressLine(snapshot, 10)).toBe('1,234 events (246.8/s)');
  });

  it('the progress line before any data', () => {
    expect(formatProgressLine(new StackMetrics(() => 0).snapshot())).toBe(
      '0 events (0.0/s) | 0 measurements | 0 groups | Observations 0 created 0 updated 0 unchanged | errors 0 | dead-lettered 0 | latency -',
    );
  });

  it('the summary names every error type and the dead letters by stage', () => {
    const summary = formatSummary(busyMetrics().snapshot());
    expect(summary).toContain('1,250 events accepted, 1,234 processed in 1 batches');
    expect(summary).toContain('dead-lettered 3 (normalization 2, FHIR conversion 1)');
    expect(summary).toContain('ingest requests refused: 1 (malformed 1)');
  });

  it('Prometheus text has HELP/TYPE lines and labelled samples', () => {
    const text = formatPrometheus(busyMetrics().snapshot());
    expect(text).toContain('# TYPE iomt_incoming_messages_total counter\niomt_incoming_messages_total 1234\n');
    expect(text).toContain('iomt_fhir_resources_saved_total{outcome="Updated"} 975');
    expect(text).toContain('iomt_errors_total{error_type="IncompatibleDataException"} 2');
    expect(text).toContain('iomt_dead_lettered_items_total{stage="FHIRConversion"} 1');
    expect(text).toContain('iomt_device_to_fhir_latency_ms_count 2');
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.trim().split('\n')) {
      expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{\w+="[^"]*"\})? -?[\d.e+]+)$/);
    }
  });

  it.each([
    [0, '0ms'],
    [850.4, '850ms'],
    [1200, '1.2s'],
    [59_949, '59.9s'],
    [125_000, '2m05s'],
  ])('formatDuration(%p) is %p', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([
    [0, 10, '[>         ]   0%'],
    [5, 10, '[=====>    ]  50%'],
    [10, 10, '[==========] 100%'],
    [0, 0, '[==========] 100%'],
  ])('formatBar(%p, %p)', (done, total, bar) => {
    expect(formatBar(done, total, 10)).toBe(bar);
  });
});
