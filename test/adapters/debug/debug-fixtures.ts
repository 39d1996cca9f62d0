/**
 * Small mappings and events for the debugger's tests (API, HTTP handler, browser). Line numbers matter: the tests
 * assert where issues are reported, so edit these texts together with the constants below them.
 */

/** A device mapping: one CalculatedContent template for heart rate in direct messages. */
export const DEVICE_MAPPING = `{
  "templateType": "CollectionContent",
  "template": [
    {
      "templateType": "CalculatedContent",
      "template": {
        "typeName": "heartrate",
        "typeMatchExpression": "$..[?(@heartRate)]",
        "deviceIdExpression": "$.matchedToken.deviceId",
        "patientIdExpression": "$.matchedToken.patientId",
        "timestampExpression": "$.matchedToken.measurementTime",
        "values": [{ "valueName": "hr", "valueExpression": "$.matchedToken.heartRate", "required": true }]
      }
    }
  ]
}
`;

/** Where `typeMatchExpression` is written in {@link DEVICE_MAPPING} (its key). */
export const TYPE_MATCH_POSITION = { line: 8, column: 9 } as const;

/** {@link DEVICE_MAPPING} with a JSONPath syntax error in `typeMatchExpression`. */
export const BROKEN_DEVICE_MAPPING = DEVICE_MAPPING.replace('"$..[?(@heartRate)]"', '"$..[?(@heartRate"');

/** A FHIR destination mapping for {@link DEVICE_MAPPING}: heart rate as a Quantity, one Observation per reading. */
export const FHIR_MAPPING = `{
  "templateType": "CollectionFhir",
  "template": [
    {
      "templateType": "CodeValueFhir",
      "template": {
        "typeName": "heartrate",
        "periodInterval": 0,
        "codes": [{ "system": "http://loinc.org", "code": "8867-4", "display": "Heart rate" }],
        "value": { "valueType": "Quantity", "valueName": "hr", "unit": "count/min" }
      }
    }
  ]
}
`;

/** One heart-rate reading, as an events-file entry. */
export const HEART_RATE_EVENT = {
  enqueuedTimeUtc: '2024-03-10T14:00:06Z',
  body: { deviceId: 'monitor-01', patientId: 'patient-001', measurementTime: '2024-03-10T14:00:05Z', heartRate: 72 },
} as const;

/** A fixed clock: 2024-03-10T15:00:00Z. */
export const FIXED_CLOCK = (): number => Date.UTC(2024, 2, 10, 15);
