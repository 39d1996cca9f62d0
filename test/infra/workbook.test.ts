import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { type Dimensions, Metric } from '../../src/pipeline/metrics';
import { readBicepFile } from './bicep';

const INFRA = resolve(__dirname, '../../infra');

/** The closed dimension set; the type makes this list fail to compile when Dimensions changes. */
const DIMENSIONS: Readonly<Record<keyof Dimensions, true>> = {
  stage: true,
  errorType: true,
  errorCategory: true,
  severity: true,
  partition: true,
  outcome: true,
  resourceType: true,
};

/** customMetrics columns the queries may use (Application Insights' schema for pre-aggregated metrics). */
const COLUMNS = new Set(['timestamp', 'name', 'valueSum', 'valueCount', 'valueMin', 'valueMax', 'customDimensions']);

interface WorkbookItem {
  type: number;
  name: string;
  customWidth?: string;
  content: {
    version?: string;
    json?: string;
    query?: string;
    queryType?: number;
    resourceType?: string;
    visualization?: string;
    timeContextFromParameter?: string;
    items?: WorkbookItem[];
    parameters?: { name: string; type: number }[];
  };
}

interface Workbook {
  version: string;
  items: WorkbookItem[];
  $schema: string;
}

const workbookText = readFileSync(resolve(INFRA, 'workbook.json'), 'utf8');
const workbook = JSON.parse(workbookText) as Workbook;

function allItems(items: readonly WorkbookItem[]): WorkbookItem[] {
  return items.flatMap((i) => [i, ...allItems(i.content.items ?? [])]);
}

const items = allItems(workbook.items);
const workbookQueries = items.filter((i) => i.type === 3).map((i) => ({ name: i.name, query: i.content.query ?? '' }));
const alertsFile = readBicepFile(resolve(INFRA, 'alerts.bicep'));
const alertQueries = alertsFile.tokens
  .filter((t) => t.kind === 'string' && t.multiline)
  .map((t, i) => ({ name: `alerts.bicep query ${i}`, query: t.text }));

/** The metric names a query filters on: `name == '…'` and `name in ('…', …)`. */
function metricNames(query: string): string[] {
  const names: string[] = [];
  for (const m of query.matchAll(/\bname\s*==\s*'([^']*)'/g)) {
    names.push(m[1] ?? '');
  }
  for (const m of query.matchAll(/\bname\s+in\s*\(([^)]*)\)/g)) {
    names.push(...[...(m[1] ?? '').matchAll(/'([^']*)'/g)].map((x) => x[1] ?? ''));
  }
  return names;
}

describe('infra/workbook.json', () => {
  it('is an Application Insights workbook (Notebook/1.0) with uniquely named items', () => {
    expect(workbook.version).toBe('Notebook/1.0');
    expect(workbook.$schema).toMatch(/Application-Insights-Workbooks/);
    const names = items.map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    for (const item of items) {
      expect([1, 3, 9, 12]).toContain(item.type);
      if (item.customWidth !== undefined) {
        expect(Number(item.customWidth)).toBeGreaterThan(0);
      }
    }
  });

  it('queries Application Insights logs over the time range parameter', () => {
    const timeRange = items.flatMap((i) => i.content.parameters ?? []).find((p) => p.name === 'TimeRange');
    expect(timeRange?.type).toBe(4);
    for (const item of items.filter((i) => i.type === 3)) {
      expect(item.content).toEqual(
        expect.objectContaining({
          version: 'KqlItem/1.0',
          queryType: 0,
          resourceType: 'microsoft.insights/components',
          timeContextFromParameter: 'TimeRange',
        }),
      );
      expect(['timechart', 'barchart', 'table', 'tiles']).toContain(item.content.visualization);
    }
  });

  it('shows every metric of the catalogue', () => {
    const shown = new Set(workbookQueries.flatMap((q) => metricNames(q.query)));
    expect([...shown].sort()).toEqual(Object.values(Metric).sort());
  });

  it('covers traffic, outcomes, errors by type and stage, latencies and dead letters', () => {
    const all = workbookQueries.map((q) => q.query).join('\n');
    expect(all).toContain('customDimensions.outcome');
    expect(all).toMatch(
      /ErrorType = tostring\(customDimensions\.errorType\), Stage = tostring\(customDimensions\.stage\)/,
    );
    for (const p of [50, 95, 99]) {
      expect(all).toContain(`percentilew(valueSum / valueCount, valueCount, ${p})`);
    }
    expect(all).toContain("name == 'DeadLetteredItems'");
  });

  it('fits in a Bicep loadTextContent (main.bicep deploys it)', () => {
    expect(workbookText.length).toBeLessThan(131_072);
    expect(readFileSync(resolve(INFRA, 'main.bicep'), 'utf8')).toContain(
      "serializedData: loadTextContent('workbook.json')",
    );
  });
});

describe('alert rules (infra/alerts.bicep)', () => {
  it('alert on errors, device-to-FHIR latency, dead letters and silence', () => {
    const used = alertQueries.flatMap((q) => metricNames(q.query)).sort();
    expect(used).toEqual(['DeadLetteredItems', 'DeviceToFhirLatencyMs', 'IncomingMessages', 'TotalErrors']);
  });
});

describe.each([...workbookQueries, ...alertQueries].map((q) => [q.name, q.query] as const))(
  'query %s',
  (_name, query) => {
    it('reads customMetrics and only metric names from the catalogue', () => {
      expect(query.trimStart().startsWith('customMetrics')).toBe(true);
      const names = metricNames(query);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        expect(Object.values(Metric)).toContain(name);
      }
    });

    it('uses only the closed dimension set and the customMetrics columns', () => {
      for (const m of query.matchAll(/customDimensions\.(\w+)/g)) {
        expect(Object.keys(DIMENSIONS)).toContain(m[1]);
      }
      for (const m of query.matchAll(/\b(value\w*)\b/g)) {
        expect(COLUMNS).toContain(m[1]);
      }
    });

    it('has balanced parentheses and quotes', () => {
      let depth = 0;
      for (const c of query.replace(/'[^'\n]*'/g, "''")) {
        depth += c === '(' ? 1 : c === ')' ? -1 : 0;
        expect(depth).toBeGreaterThanOrEqual(0);
      }
      expect(depth).toBe(0);
      expect((query.match(/'/g) ?? []).length % 2).toBe(0);
    });
  },
);
