/**
 * A new Observation from one observation window (medtech-reference §9.6, `CodeValueFhirTemplateProcessor` and
 * `R4FhirImportService.GenerateObservation`).
 */
import type { CodeableConcept, Observation, ObservationComponent } from '@medplum/fhirtypes';
import { parseWindow } from '../group/window';
import type { CodeValueFhirTemplate, FhirCategory, FhirCode } from '../mapping/fhir-template';
import type { MeasurementGroup } from '../model/measurement-group';
import { SERVICE_SYSTEM, type ObservationIdentity } from './observation-identity';
import { setNewValue, toCodings } from './observation-values';
import { collectWindowValues } from './window-values';
import { ErrorCode, PipelineError } from '../errors';

/** The resolved logical ids an Observation refers to. */
export interface ObservationSubject {
  readonly patientId: string;
  readonly deviceId: string;
  readonly encounterId?: string;
}

/**
 * Builds the Observation of a window: status `final`; code = template codes + the service coding
 * `{system, code: type, display: type}` with `text` = type; category when the template has one; subject, device and
 * (when resolved) encounter references; `effectivePeriod` = the window (always a Period); `issued`; `value[x]` when
 * the value's name has values in the window; one component per template component with values, in template order.
 *
 * @param template - the type's template
 * @param group - a windowed measurement group
 * @param identity - the Observation's identifier and id (from {@link observationIdentity})
 * @param subject - the resolved Patient, Device and Encounter ids
 * @param issued - the creation time, FHIR instant
 * @throws PipelineError for values the template cannot turn into FHIR (`INVALID_QUANTITY_VALUE`, …)
 */
export function buildObservation(
  template: CodeValueFhirTemplate,
  group: MeasurementGroup,
  identity: ObservationIdentity,
  subject: ObservationSubject,
  issued: string,
): Observation {
  if (group.window === null) {
    throw new PipelineError(ErrorCode.Internal, 'An Observation needs a windowed measurement group.', {
      details: { template: template.typeName },
    });
  }
  const bounds = parseWindow(group.window);
  const values = collectWindowValues(group);
  const ctx = { template: template.typeName };

  const observation: Observation = {
    resourceType: 'Observation',
    id: identity.id,
    identifier: [{ system: identity.system, value: identity.value }],
    status: 'final',
    ...(template.category !== undefined && template.category.length > 0
      ? { category: resolveCategory(template.category) }
      : {}),
    code: resolveCode(group.type, template.codes),
    subject: { reference: `Patient/${subject.patientId}` },
  };
  if (subject.encounterId !== undefined) {
    observation.encounter = { reference: `Encounter/${subject.encounterId}` };
  }
  observation.effectivePeriod = { start: group.window.start, end: group.window.end };
  observation.issued = issued;

  const valueName = template.value?.valueName;
  if (template.value !== undefined && valueName !== undefined && valueName.trim() !== '') {
    const mainValues = values.get(valueName);
    if (mainValues !== undefined) {
      setNewValue(observation, template.value, mainValues, bounds, ctx);
    }
  }
  observation.device = { reference: `Device/${subject.deviceId}` };

  const components: ObservationComponent[] = [];
  for (const component of template.components) {
    const componentValues = values.get(component.value.valueName ?? '');
    if (component.value.valueName !== undefined && componentValues !== undefined) {
      const c: ObservationComponent = { code: resolveCode(component.value.valueName, component.codes) };
      setNewValue(c, component.value, componentValues, bounds, ctx);
      components.push(c);
    }
  }
  if (components.length > 0) {
    observation.component = components;
  }
  return observation;
}

/**
 * `code` of an Observation or component: the template codes, then the service coding for `name`; text = `name`.
 * @param name - the measurement type (Observation) or the value name (component)
 * @param codes - the template codes
 */
export function resolveCode(name: string, codes: readonly FhirCode[]): CodeableConcept {
  return {
    coding: [...toCodings(codes), { system: SERVICE_SYSTEM, code: name, display: name }],
    text: name,
  };
}

/**
 * `category` from the template; a category without codes has no `coding`, one without text no `text`.
 * @param categories - the template's categories (at least one)
 */
export function resolveCategory(categories: readonly FhirCategory[]): CodeableConcept[] {
  return categories.map((category) => {
    const concept: CodeableConcept = {};
    if (category.codes !== undefined && category.codes.length > 0) {
      concept.coding = toCodings(category.codes);
    }
    if (category.text !== undefined) {
      concept.text = category.text;
    }
    return concept;
  });
}
