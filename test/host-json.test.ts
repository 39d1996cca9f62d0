import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Checks host.json against the limits the Functions documentation states (see docs/host-json.md). */
describe('host.json', () => {
  const host = JSON.parse(readFileSync(join(__dirname, '..', 'host.json'), 'utf8'));

  it('targets the v2 host schema and the v4 extension bundle', () => {
    expect(host.version).toBe('2.0');
    expect(host.extensionBundle).toEqual({ id: 'Microsoft.Azure.Functions.ExtensionBundle', version: '[4.*, 5.0.0)' });
  });

  it('batches events within the Event Hubs extension limits', () => {
    const eh = host.extensions.eventHubs;
    expect(eh.maxEventBatchSize).toBeGreaterThanOrEqual(1);
    // "must be less than maxEventBatchSize"; maxWaitTime only matters when minEventBatchSize > 1 and is at most 10 min.
    expect(eh.minEventBatchSize).toBeLessThan(eh.maxEventBatchSize);
    const [h, m, s] = (eh.maxWaitTime as string).split(':').map(Number);
    expect((h ?? 0) * 3600 + (m ?? 0) * 60 + (s ?? 0)).toBeLessThanOrEqual(600);
    expect(eh.prefetchCount).toBeGreaterThanOrEqual(eh.maxEventBatchSize);
    expect(eh.batchCheckpointFrequency).toBe(1);
  });

  it('names a valid Durable task hub on the Azure Storage provider', () => {
    const dt = host.extensions.durableTask;
    // Task hub names: 3-45 characters, letters and digits, starting with a letter.
    expect(dt.hubName).toMatch(/^[A-Za-z][A-Za-z0-9]{2,44}$/);
    expect(dt.storageProvider.type).toBe('AzureStorage');
    expect(dt.maxConcurrentActivityFunctions).toBeGreaterThan(0);
    expect(dt.maxConcurrentOrchestratorFunctions).toBeGreaterThan(0);
  });

  it('never samples away invocation records', () => {
    expect(host.logging.applicationInsights.samplingSettings.excludedTypes).toBe('Request');
    expect(host.logging.logLevel).toEqual({ default: 'Warning', Function: 'Information', 'Host.Results': 'Error' });
  });
});
