import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { runCli } from '../run-cli';

const device = (typeName: string, valueName = 'hr') =>
  JSON.stringify(
    {
      templateType: 'CollectionContent',
      template: [
        {
          templateType: 'CalculatedContent',
          template: {
            typeName,
            typeMatchExpression: '$..[?(@hr)]',
            deviceIdExpression: '$.matchedToken.d',
            timestampExpression: '$.matchedToken.t',
            values: [{ valueName, valueExpression: '$.matchedToken.hr', required: true }],
          },
        },
      ],
    },
    null,
    2,
  );
const fhir = JSON.stringify({
  templateType: 'CollectionFhir',
  template: [
    {
      templateType: 'CodeValueFhir',
      template: { typeName: 'heartrate', codes: [], value: { valueType: 'Quantity', valueName: 'hr' } },
    },
  ],
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'iomt-validate-'));
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

describe('iomt validate', () => {
  it('exits 0 for valid mappings and says how many it checked', async () => {
    const dir = folder({ 'device.json': device('heartrate'), 'fhir.json': fhir, 'message.json': '{"hr": 1}' });
    const run = await runCli(['validate', dir]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('2 mapping file(s) checked: 2 valid, 0 invalid');
  });

  it('prints every problem as file:line:col  MedTechErrorType  message and exits 2', async () => {
    const text = device('heartrate').replace('"$..[?(@hr)]"', '"$..[?(@hr"').replace('"values"', '"valuez"');
    const dir = folder({ 'device.json': text });
    const run = await runCli(['validate', join(dir, 'device.json')]);
    expect(run.code).toBe(2);
    const lines = text.split('\n');
    const at = (needle: string) => {
      const line = lines.findIndex((l) => l.includes(needle));
      return `${line + 1}:${(lines[line] ?? '').indexOf(needle) + 1}`;
    };
    expect(run.out).toContain(
      `${join(dir, 'device.json')}:${at('"typeMatchExpression"')}  TemplateExpressionException  `,
    );
    expect(run.out).toContain(
      `${join(dir, 'device.json')}:${at('"valuez"')}  InvalidTemplateException  Could not find member 'valuez' on object of type 'CalculatedContent'.`,
    );
  });

  it('accepts files that start with a UTF-8 byte-order mark', async () => {
    const dir = folder({ 'device.json': `\uFEFF${device('heartrate')}` });
    expect((await runCli(['validate', join(dir, 'device.json')])).code).toBe(0);
  });

  it('rejects a named file that is not a mapping, with a location', async () => {
    const dir = folder({ 'other.json': '{\n  "templateType": "",\n  "template": []\n}' });
    const run = await runCli(['validate', join(dir, 'other.json')]);
    expect(run.code).toBe(2);
    expect(run.out).toMatch(/other\.json:2:3 {2}InvalidTemplateException {2}Expected TemplateType value/);
  });

  it('warns where a device and a FHIR mapping disagree, without failing', async () => {
    const dir = folder({ 'device.json': device('HeartRate', 'HR'), 'fhir.json': fhir, 'other.json': device('steps') });
    const run = await runCli(['validate', dir]);
    expect(run.code).toBe(0);
    expect(run.out).toContain(
      "warning  The value 'HR' of 'HeartRate' is not used by its FHIR template, which names 'hr'; ensure case matches.",
    );
    expect(run.out).toContain("warning  No FHIR template has the type name 'steps'");
  });

  it('prints JSON with --json', async () => {
    const dir = folder({ 'device.json': '{"templateType":"CollectionContent","template":{}}' });
    const run = await runCli(['validate', '--json', dir]);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.out)).toMatchObject({
      valid: false,
      files: [{ kind: 'device', issues: [{ message: 'Expected an array for the template property value.', line: 1 }] }],
    });
  });

  it('needs a file or folder', async () => {
    expect((await runCli(['validate'])).code).toBe(2);
    expect((await runCli(['validate', '/no/such/file.json'])).err).toContain('no such file or folder');
  });
});
