import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import {
  BicepSyntaxError,
  checkSymbols,
  objectKeys,
  readBicepFile,
  stringObject,
  tokenizeBicep,
  type BicepFile,
} from './bicep';

const INFRA = resolve(__dirname, '../../infra');

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );
}

const files = bicepFiles(INFRA).map((path) => readBicepFile(path));
const main = files.find((f) => f.path.endsWith('infra/main.bicep')) as BicepFile;
const relative = (f: BicepFile): string => f.path.slice(INFRA.length + 1);

/**
 * Built-in role definition IDs, as documented in "Azure built-in roles"
 * (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
 */
const DOCUMENTED_ROLES: Readonly<Record<string, string>> = {
  'Azure Event Hubs Data Receiver': 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde',
  'Azure Event Hubs Data Sender': '2b629674-e913-4c01-ae53-ef4638d8f975',
  'FHIR Data Writer': '3f88fce4-5892-4214-ae73-ba5294559913',
  'FHIR Data Reader': '4c8d0bbc-75d3-4935-991f-5f3c56d81508',
  'Storage Blob Data Owner': 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  'Storage Blob Data Contributor': 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
  'Storage Queue Data Contributor': '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  'Storage Table Data Contributor': '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
};

describe('the Bicep reader', () => {
  it.each([
    ["param a string = 'x", /unterminated string at line 1/],
    ['var a = {\n  b: [1, 2\n}', /unbalanced } at line 3/],
    ["var a = '${b'", /unterminated string/],
    ['var a = (1', /unclosed \(/],
    ["var a = 'a\\q'", /invalid escape \\q/],
    ['/* open', /unterminated comment/],
    ["var a = '''never closed", /unterminated multi-line string/],
  ])('rejects %j', (source, message) => {
    expect(() => tokenizeBicep(source)).toThrow(BicepSyntaxError);
    expect(() => tokenizeBicep(source)).toThrow(message);
  });

  it('reads interpolations, escapes, multi-line strings and comments', () => {
    const tokens = tokenizeBicep("var a = 'x${b['k']}y\\'z' // c\nvar q = '''\nline '' $ {}\n'''\n/* } */");
    expect(tokens.filter((t) => t.kind === 'string').map((t) => t.text)).toEqual(['x', 'k', "y'z", "\nline '' $ {}\n"]);
    expect(tokens.filter((t) => t.kind === 'identifier').map((t) => t.text)).toEqual(['var', 'a', 'b', 'var', 'q']);
  });

  it('finds undeclared symbols, unknown functions and unused declarations', () => {
    const problems = checkSymbols({
      path: 'x.bicep',
      source: '',
      declarations: [
        { keyword: 'param', name: 'used' },
        { keyword: 'param', name: 'unused' },
        { keyword: 'var', name: 'v' },
      ],
      tokens: tokenizeBicep(
        'param used string\nparam unused string\nvar v = {\n  key: toLower(used)\n  other: typo.name\n  bad: nope(1)\n}',
      ),
    });
    expect(problems).toEqual({
      undeclared: ['typo'],
      unknownFunctions: ['nope'],
      unknownDecorators: [],
      unused: ['unused', 'v'],
    });
  });
});

describe.each(files.map((f) => [relative(f), f] as const))('%s', (_name, file) => {
  it('is made of declarations only, each expression on one line', () => {
    expect(file.declarations.length).toBeGreaterThan(0);
    for (const d of file.declarations) {
      expect(d.name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    }
  });

  it('uses only declared symbols and known functions and decorators, and uses what it declares', () => {
    expect(checkSymbols(file)).toEqual({ undeclared: [], unknownFunctions: [], unknownDecorators: [], unused: [] });
  });

  it('names every resource type with a dated API version', () => {
    for (const d of file.declarations.filter((x) => x.keyword === 'resource')) {
      expect(d.target).toMatch(/^Microsoft\.[A-Za-z]+(\/[A-Za-z]+)+@\d{4}-\d{2}-\d{2}(-preview)?$/);
    }
  });

  it('references modules and loaded files that exist', () => {
    for (const d of file.declarations.filter((x) => x.keyword === 'module')) {
      expect(existsSync(join(dirname(file.path), d.target ?? ''))).toBe(true);
    }
    for (const match of file.source.matchAll(/load(?:Text|Json)Content\('([^']+)'\)/g)) {
      expect(existsSync(join(dirname(file.path), match[1] ?? ''))).toBe(true);
    }
  });

  it('describes every parameter and output', () => {
    const lines = file.source.split('\n');
    lines.forEach((line, index) => {
      if (/^(param|output) /.test(line)) {
        // The decorators above the declaration include a description.
        let k = index - 1;
        const decorators: string[] = [];
        while (k >= 0 && /^(@| {2}|\])/.test(lines[k] ?? '')) {
          decorators.push(lines[k] ?? '');
          k--;
        }
        expect(decorators.some((d) => d.startsWith('@description('))).toBe(true);
      }
    });
  });

  it('holds no secrets: no keys, passwords or connection strings as literals', () => {
    const strings = file.tokens.filter((t) => t.kind === 'string').map((t) => t.text);
    for (const s of strings) {
      expect(s).not.toMatch(/SharedAccessKey=|AccountKey=[A-Za-z0-9+/]{8}|password|BEGIN (RSA )?PRIVATE KEY/i);
    }
    expect(file.declarations.filter((d) => d.keyword === 'param').map((d) => d.name)).not.toContainEqual(
      expect.stringMatching(/key|password|secret|connectionstring/i),
    );
  });

  it('assigns only documented built-in roles, referenced through roleIds', () => {
    const guids = [...file.source.matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g)].map(
      (m) => m[1],
    );
    for (const guid of guids) {
      expect(Object.values(DOCUMENTED_ROLES)).toContain(guid);
    }
  });
});

describe('infra/main.bicep', () => {
  it('deploys to a resource group', () => {
    expect(main.source).toMatch(/^targetScope = 'resourceGroup'$/m);
  });

  it('keeps the built-in role IDs as documented', () => {
    const roleIds = stringObject(main, 'roleIds');
    const byName = (name: string): string => name.replace(/^(\w)/, (c) => c.toLowerCase()).replace(/ /g, '');
    expect(roleIds).toEqual(
      Object.fromEntries(
        Object.entries(DOCUMENTED_ROLES).map(([name, id]) => [byName(name).replace(/^fHIR/, 'fhir'), id]),
      ),
    );
  });

  it('grants the function app the roles the Functions host, Durable Functions and the pipeline need', () => {
    // Storage: host + Event Hubs checkpoints + Flex deployment + blobs (Owner), task hub queues, task hub tables.
    expect(main.source).toMatch(
      /var functionStorageRoles = \[\n {2}roleIds\.storageBlobDataOwner\n {2}roleIds\.storageQueueDataContributor\n {2}roleIds\.storageTableDataContributor\n\]/,
    );
    // Event Hubs Data Receiver, scoped to the hub (not the namespace).
    expect(main.source).toMatch(
      /resource eventHubReceiverRoleAssignment [^\n]+\n {2}name: guid\(eventHub\.id, functionApp\.id, roleIds\.azureEventHubsDataReceiver\)\n {2}scope: eventHub\n/,
    );
    // FHIR Data Writer for the app's identity on the FHIR service.
    expect(main.source).toMatch(
      /principalId: functionApp\.identity\.principalId\n\s+principalType: 'ServicePrincipal'\n\s+roleDefinitionId: roleIds\.fhirDataWriter/,
    );
  });

  it('runs the app with a system-assigned identity on Flex Consumption by default, Elastic Premium as an option', () => {
    expect(main.source).toMatch(/identity: \{\n\s+type: 'SystemAssigned'\n\s+\}/);
    expect(main.source).toMatch(/param hostingPlan string = 'FlexConsumption'/);
    expect(objectKeys(main, 'flexFunctionAppConfig')).toEqual(['deployment', 'scaleAndConcurrency', 'runtime']);
    expect(main.source).toMatch(/type: 'SystemAssignedIdentity'/);
    // Flex Consumption storage is identity-only.
    expect(main.source).toMatch(/allowSharedKeyAccess: !isFlex/);
  });

  it('gives the pipeline its own consumer group', () => {
    expect(main.source).toMatch(/param eventHubConsumerGroupName string = 'iomt-fhir'/);
    expect(main.source).toMatch(/EventHubConsumerGroup: consumerGroup\.name/);
  });

  it('outputs the function app name, the hub and the FHIR URL', () => {
    const outputs = main.declarations.filter((d) => d.keyword === 'output').map((d) => d.name);
    expect(outputs).toEqual(
      expect.arrayContaining(['functionAppName', 'eventHubNamespace', 'eventHubName', 'fhirServerUrl']),
    );
  });
});
