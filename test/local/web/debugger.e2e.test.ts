/**
 * The web mapping debugger in a real browser: Debian's Chromium driven by playwright-core. Every wait is on DOM
 * state with a deadline; the browser and the server are always closed. Without Chromium this test fails (CI
 * installs it: .ci/run).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { DebuggerServer } from '../../../src/local/web';
import { startDebuggerServer } from '../../../src/local/web';
import {
  BROKEN_DEVICE_MAPPING,
  DEVICE_MAPPING,
  FHIR_MAPPING,
  HEART_RATE_EVENT,
  TYPE_MATCH_POSITION,
} from '../../adapters/debug/debug-fixtures';

const CHROMIUM = '/usr/bin/chromium';
/** How long any one DOM condition may take to become true. */
const DEADLINE_MS = 15_000;

jest.setTimeout(90_000);

let server: DebuggerServer | undefined;
let browser: Browser | undefined;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is missing at ${CHROMIUM}: the browser test needs it. Install it with ` +
        '`apt-get update && apt-get install -y chromium` (.ci/run does this).',
    );
  }
  server = await startDebuggerServer({ port: 0, clock: () => Date.UTC(2024, 2, 10, 15) });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: DEADLINE_MS,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const context = await browser.newContext({ acceptDownloads: true });
  context.setDefaultTimeout(DEADLINE_MS);
  page = await context.newPage();
  // Script errors, failed loads and CSP violations all surface here; the page must have none.
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      problems.push(`console error: ${message.text()}`);
    }
  });
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
});

afterAll(async () => {
  try {
    await browser?.close();
  } finally {
    await server?.close();
  }
});

/** The text of the first element matching a selector. */
const textOf = async (selector: string): Promise<string> => (await page.locator(selector).first().textContent()) ?? '';

/** The 0-based offset of a 1-based line and column in a text. */
function offsetOf(text: string, line: number, column: number): number {
  const lines = text.split('\n');
  return lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0) + column - 1;
}

test('flags a mapping error at its line, and shows the Observation of a sample event once fixed', async () => {
  await page.goto(server!.url);
  // The page loads the repository's example mappings first, then validates them.
  await page.waitForSelector('body[data-ready="true"]');
  expect(await page.inputValue('#device-mapping')).toContain('CollectionContent');
  expect(await page.locator('#example-select option').count()).toBeGreaterThan(0);

  // A device mapping with a broken JSONPath: flagged live, at its line, with MedTech's error type.
  await page.fill('#fhir-mapping', FHIR_MAPPING);
  await page.fill('#device-mapping', BROKEN_DEVICE_MAPPING);
  const issue = page.locator(`#device-mapping-issues li.error button[data-line="${TYPE_MATCH_POSITION.line}"]`);
  await issue.waitFor();
  expect(await issue.textContent()).toContain(`${TYPE_MATCH_POSITION.line}:${TYPE_MATCH_POSITION.column}`);
  expect(await issue.textContent()).toContain('TemplateExpressionException');
  expect(await page.locator('#device-mapping-issues li').count()).toBe(1);
  expect(await textOf('#device-mapping-validity')).toBe('1 error');
  await page.waitForSelector(
    `[data-editor="device-mapping"] .gutter span.error[data-line="${TYPE_MATCH_POSITION.line}"]`,
  );
  await page.waitForSelector(
    `[data-editor="device-mapping"] .highlights div.error[data-line="${TYPE_MATCH_POSITION.line}"]`,
  );

  // Clicking the issue puts the cursor on it.
  await issue.click();
  // (Functions given to the page as text: this project compiles without the DOM library.)
  const cursor = await page.evaluate(
    `(() => { const e = document.getElementById('device-mapping');
      return { focused: document.activeElement === e, at: e.selectionStart }; })()`,
  );
  expect(cursor).toEqual({
    focused: true,
    at: offsetOf(BROKEN_DEVICE_MAPPING, TYPE_MATCH_POSITION.line, TYPE_MATCH_POSITION.column),
  });

  // Fixed: the issue and the line marks go away.
  await page.fill('#device-mapping', DEVICE_MAPPING);
  await page.waitForSelector('#device-mapping-issues li.none');
  expect(await textOf('#device-mapping-validity')).toBe('valid');
  expect(await page.locator('[data-editor="device-mapping"] .gutter span.error').count()).toBe(0);

  // A device message as it is (body only), run with Create resolution.
  await page.selectOption('#events-format', 'raw');
  await page.fill('#events', JSON.stringify(HEART_RATE_EVENT.body, null, 2));
  await page.selectOption('#resolution', 'Create');
  await page.click('#run');
  const observation = page.locator('#observations details.resource[data-resource-type="Observation"]');
  await observation.first().waitFor();

  expect(await observation.count()).toBe(1);
  const summary = await observation.locator('summary').textContent();
  expect(summary).toContain('8867-4');
  expect(summary).toContain('72 count/min');
  const shown = JSON.parse((await observation.locator('pre').textContent()) ?? '') as {
    code: { coding: { code: string }[] };
    valueQuantity: { value: number };
    effectivePeriod: { start: string };
  };
  expect(shown.code.coding[0]?.code).toBe('8867-4');
  expect(shown.valueQuantity.value).toBe(72);
  expect(shown.effectivePeriod.start).toBe('2024-03-10T14:00:05.0000000Z');
  expect(await page.locator('#measurements-table tbody tr').count()).toBe(1);
  expect(await textOf('#measurements-table tbody tr')).toContain('hr = 72');
  expect(await textOf('#resource-count')).toBe('2');
  expect(await page.isHidden('#errors-block')).toBe(true);
  expect(await textOf('#run-status')).toBe('1 measurement, 1 Observation, 0 errors.');
});

test('shows run errors by stage with the message index, and runs from the keyboard (Ctrl+Enter)', async () => {
  await page.selectOption('#events-format', 'raw');
  await page.fill(
    '#events',
    `${JSON.stringify(HEART_RATE_EVENT.body)}\n{"heartRate": 70, "deviceId": "x", "measurementTime": "soon"}`,
  );
  await page.selectOption('#resolution', 'Lookup');
  await page.focus('#events');
  await page.keyboard.press('Control+Enter');
  // Wait on the DOM through locators: a string predicate would be evaluated in the page, which its CSP forbids.
  await page.locator('#errors-table tbody tr').nth(1).waitFor();
  expect(await page.locator('#errors-table tbody tr').count()).toBe(2);

  const rows = [];
  for (const row of await page.locator('#errors-table tbody tr').all()) {
    rows.push((await row.locator('td').allTextContents()).slice(0, 3));
  }
  expect(rows).toEqual(
    expect.arrayContaining([
      ['Normalization', '#1', expect.any(String)],
      ['FHIRConversion', '#0', 'DeviceNotFoundException'],
    ]),
  );
  expect(await page.locator('#observations details').count()).toBe(0);
});

test('downloads the edited mappings', async () => {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#device-panel button.download')]);

  expect(download.suggestedFilename()).toBe('devicecontent.json');
  expect(await readFile(await download.path(), 'utf8')).toBe(DEVICE_MAPPING);
});

test('the page raised no script error, failed load or CSP violation', () => {
  expect(problems).toEqual([]);
});
