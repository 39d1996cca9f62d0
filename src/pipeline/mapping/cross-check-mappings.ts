import type { DeviceMapping } from './device-template';
import type { FhirMapping, FhirValueTemplate } from './fhir-template';

/** A disagreement between a device mapping and a FHIR destination mapping (never fatal on its own). */
export interface MappingMismatch {
  /** Index of the device template concerned. */
  readonly templateIndex: number;
  /** Index of the value within the device template, when the mismatch is about a value. */
  readonly valueIndex?: number;
  readonly message: string;
}

/**
 * What MedTech's portal debugger and `MappingValidator` warn about (medtech-reference §13): a device template type
 * without a FHIR template, and a device value that no FHIR template value or component uses.
 *
 * @param device - the device mapping
 * @param fhir - the FHIR destination mapping
 */
export function crossCheckMappings(device: DeviceMapping, fhir: FhirMapping): MappingMismatch[] {
  const mismatches: MappingMismatch[] = [];
  for (const template of device.templates) {
    const target = fhir.templateFor(template.typeName);
    if (target === undefined) {
      mismatches.push({
        templateIndex: template.index,
        message: `No FHIR template has the type name '${template.typeName}'; its measurements would fail with TemplateNotFoundException.`,
      });
      continue;
    }
    const used = new Set(
      [target.value, ...target.components.map((c) => c.value)]
        .filter((v): v is FhirValueTemplate => v !== undefined)
        .map((v) => v.valueName),
    );
    template.values.forEach((value, valueIndex) => {
      if (!used.has(value.name)) {
        const hint = [...used].find((name) => name?.toLowerCase() === value.name.toLowerCase());
        mismatches.push({
          templateIndex: template.index,
          valueIndex,
          message:
            hint === undefined
              ? `The value '${value.name}' of '${template.typeName}' is not used by its FHIR template; it will not reach the Observation.`
              : `The value '${value.name}' of '${template.typeName}' is not used by its FHIR template, which names '${hint}'; ensure case matches.`,
        });
      }
    });
  }
  return mismatches;
}
