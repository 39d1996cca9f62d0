import { getResourceTypes, globalSchema } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceSearchParam,
} from '@medplum/fhirtypes';

const INTERACTIONS: CapabilityStatementRestResource['interaction'] = [
  { code: 'read' },
  { code: 'vread' },
  { code: 'update' },
  { code: 'patch' },
  { code: 'delete' },
  { code: 'history-instance' },
  { code: 'create' },
  { code: 'search-type' },
];

/**
 * What `GET [base]/metadata` answers (https://hl7.org/fhir/R4/http.html#capabilities): every R4 resource type with
 * the interactions the router serves and the search parameters medplum knows for it.
 * @param baseUrl - the server's base URL
 * @param date - when the server started (ISO 8601)
 * @returns the CapabilityStatement
 */
export function buildCapabilityStatement(baseUrl: string, date: string): CapabilityStatement {
  const resource = getResourceTypes()
    .sort()
    .map((type): CapabilityStatementRestResource => {
      const searchParams = globalSchema.types[type]?.searchParams ?? {};
      const searchParam = Object.entries(searchParams)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, param]): CapabilityStatementRestResourceSearchParam => ({
          name,
          type: param.type,
          definition: param.url,
        }));
      return {
        type,
        interaction: INTERACTIONS,
        versioning: 'versioned-update',
        readHistory: true,
        updateCreate: true,
        conditionalCreate: true,
        conditionalUpdate: true,
        conditionalDelete: 'single',
        searchParam,
      };
    });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date,
    kind: 'instance',
    software: { name: 'iomt embedded FHIR server (@medplum/fhir-router MemoryRepository)' },
    implementation: {
      description: 'In-memory FHIR R4 server for local runs and tests. Transactions are not atomic.',
      url: baseUrl,
    },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource,
        interaction: [{ code: 'batch' }, { code: 'transaction' }],
      },
    ],
  };
}
