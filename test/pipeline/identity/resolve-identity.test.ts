import type { Device } from '@medplum/fhirtypes';
import { ErrorCode, PipelineError } from '../../../src/pipeline/errors';
import {
  createIdentityResolver,
  type IdentityMode,
  type IdentitySource,
} from '../../../src/pipeline/identity/resolve-identity';
import { ManualClock } from '../../helpers/fhir-stage-fixtures';
import { MemoryFhirStore } from '../../helpers/memory-fhir-store';

// sha256 computed independently: printf '%s' '_patient-1' | sha256sum, etc.
const PATIENT_ID = 'deab8edda8ce4b54e9ff81bdcf69ce1613dd065e76cdeb9862ff915568f7200d';
const DEVICE_ID = '77aadcb93fa9e49dff2acb0ffe18f4b2d03191e8e2dcab90a79dc22a9d1d7a87';
const DEVICE_ID_WITH_SYSTEM = 'a4115352cc5a5571d9a4495d5dd7884a7cfb1e81f55aee25ff4892e66175eee7';

const source = (over: Partial<IdentitySource> = {}): IdentitySource => ({
  deviceId: 'device-1',
  patientId: 'patient-1',
  encounterId: null,
  ...over,
});

function setup(mode: IdentityMode, options: { system?: string } = {}) {
  const store = new MemoryFhirStore();
  const clock = new ManualClock();
  const resolver = createIdentityResolver({
    store,
    mode,
    clock: clock.now,
    ...(options.system === undefined ? {} : { defaultDeviceIdentifierSystem: options.system }),
  });
  return { store, clock, resolver };
}

const device = (over: Partial<Device> = {}): Device => ({
  resourceType: 'Device',
  id: 'dev-res',
  identifier: [{ system: 'urn:any', value: 'device-1' }],
  patient: { reference: 'Patient/pat-res' },
  ...over,
});

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    return e as PipelineError;
  }
  throw new Error('expected a failure');
};

describe('Lookup (§10)', () => {
  it("finds the Device by identifier (any system) and the Patient from its reference, ignoring the group's patient", async () => {
    const { store, resolver } = setup('Lookup');
    store.seed(device());
    await expect(resolver.resolve(source({ patientId: 'someone-else' }))).resolves.toEqual({
      deviceId: 'dev-res',
      patientId: 'pat-res',
    });
  });

  it.each([
    ['an absolute reference', 'https://fhir.example/Patient/pat-res', 'pat-res'],
    ['a versioned reference', 'Patient/pat-res/_history/3', 'pat-res'],
    ['all allowed id characters', 'Patient/a-Z_0.9~#', 'a-Z_0.9~#'],
  ])('reads the patient id from %s', async (_name, reference, expected) => {
    const { store, resolver } = setup('Lookup');
    store.seed(device({ patient: { reference } }));
    await expect(resolver.resolve(source())).resolves.toMatchObject({ patientId: expected });
  });

  it.each([
    ['no patient reference', {}],
    ['a reference to another type', { patient: { reference: 'Group/g1' } }],
    [
      'an id longer than FHIR allows (never truncated into another id)',
      { patient: { reference: `Patient/${'a'.repeat(65)}` } },
    ],
  ])('PatientNotFound with %s', async (_name, over) => {
    const { store, resolver } = setup('Lookup');
    store.seed({ ...device(), patient: undefined, ...over });
    expect(await failure(resolver.resolve(source()))).toMatchObject({
      code: ErrorCode.PatientNotFound,
      medtechErrorType: 'PatientNotFoundException',
    });
  });

  it('DeviceNotFound when no Device carries the identifier', async () => {
    const { resolver } = setup('Lookup');
    const e = await failure(resolver.resolve(source()));
    expect(e).toMatchObject({ code: ErrorCode.DeviceNotFound, medtechErrorType: 'DeviceNotFoundException' });
    expect(e.message).not.toContain('device-1');
  });

  it('MultipleDeviceFound when two Devices carry the identifier', async () => {
    const { store, resolver } = setup('Lookup');
    store.seed(device());
    store.seed(device({ id: 'dev-2' }));
    expect(await failure(resolver.resolve(source()))).toMatchObject({
      code: ErrorCode.MultipleResourcesFound,
      medtechErrorType: 'MultipleDeviceFoundException',
    });
  });

  it('searches Devices with the configured system only', async () => {
    const { store, resolver } = setup('Lookup', { system: 'urn:sys' });
    store.seed(device());
    expect(await failure(resolver.resolve(source()))).toMatchObject({ code: ErrorCode.DeviceNotFound });
    store.seed(device({ id: 'dev-sys', identifier: [{ system: 'urn:sys', value: 'device-1' }] }));
    await expect(resolver.resolve(source())).resolves.toMatchObject({ deviceId: 'dev-sys' });
  });

  it('resolves the Encounter when the group has one', async () => {
    const { store, resolver } = setup('Lookup');
    store.seed(device());
    store.seed({
      resourceType: 'Encounter',
      id: 'enc-res',
      status: 'in-progress',
      class: { code: 'AMB' },
      identifier: [{ value: 'visit-9' }],
    });
    await expect(resolver.resolve(source({ encounterId: 'visit-9' }))).resolves.toEqual({
      deviceId: 'dev-res',
      patientId: 'pat-res',
      encounterId: 'enc-res',
    });
    expect(await failure(resolver.resolve(source({ encounterId: 'visit-0' })))).toMatchObject({
      code: ErrorCode.EncounterNotFound,
      medtechErrorType: 'EncounterNotFoundException',
    });
  });
});

describe('LookupWithEncounter (§10)', () => {
  it('requires an encounter id, after the Device lookup', async () => {
    const { store, resolver } = setup('LookupWithEncounter');
    expect(await failure(resolver.resolve(source()))).toMatchObject({ code: ErrorCode.DeviceNotFound });
    store.seed(device());
    expect(await failure(resolver.resolve(source({ encounterId: ' ' })))).toMatchObject({
      code: ErrorCode.EncounterIdentityNotDefined,
      medtechErrorType: 'EncounterIdentityNotDefinedException',
    });
  });
});

describe('Create (§10)', () => {
  it('creates Patient and Device with the deterministic ids by PUT', async () => {
    const { store, resolver } = setup('Create');
    await expect(resolver.resolve(source())).resolves.toEqual({ deviceId: DEVICE_ID, patientId: PATIENT_ID });
    expect(store.current('Patient', PATIENT_ID)).toMatchObject({ identifier: [{ value: 'patient-1' }] });
    expect(store.current('Device', DEVICE_ID)).toMatchObject({
      identifier: [{ value: 'device-1' }],
      patient: { reference: `Patient/${PATIENT_ID}` },
    });
  });

  it('puts the configured system into the Device identifier and id', async () => {
    const { store, resolver } = setup('Create', { system: 'urn:sys' });
    await expect(resolver.resolve(source())).resolves.toMatchObject({ deviceId: DEVICE_ID_WITH_SYSTEM });
    expect(store.current('Device', DEVICE_ID_WITH_SYSTEM)?.identifier).toEqual([
      { system: 'urn:sys', value: 'device-1' },
    ]);
  });

  it('PatientIdentityNotDefined when a Device must be created and the group has no patient id', async () => {
    const { resolver } = setup('Create');
    expect(await failure(resolver.resolve(source({ patientId: null })))).toMatchObject({
      code: ErrorCode.PatientIdentityNotDefined,
      medtechErrorType: 'PatientIdentityNotDefinedException',
    });
  });

  it('links an existing unlinked Device with If-Match', async () => {
    const { store, resolver } = setup('Create');
    store.seed(device({ patient: undefined }));
    await expect(resolver.resolve(source())).resolves.toEqual({ deviceId: 'dev-res', patientId: PATIENT_ID });
    expect(store.current('Device', 'dev-res')?.patient).toEqual({ reference: `Patient/${PATIENT_ID}` });
    expect(store.callsOf('put').at(-1)).toMatchObject({ resourceType: 'Device', ifMatch: '1' });
  });

  it('retries the link when another worker changed the Device meanwhile', async () => {
    const { store, resolver } = setup('Create');
    store.seed(device({ patient: undefined }));
    let conflicts = 1;
    store.beforePut = (resource, options) =>
      resource.resourceType === 'Device' && options.ifMatch !== undefined && conflicts-- > 0
        ? new PipelineError(ErrorCode.FhirConflict, 'version mismatch')
        : undefined;
    await expect(resolver.resolve(source())).resolves.toEqual({ deviceId: 'dev-res', patientId: PATIENT_ID });
    expect(conflicts).toBe(-1);
  });

  it('an existing linked Device wins over the group patient id (no mismatch)', async () => {
    const { store, resolver } = setup('Create');
    store.seed(device());
    await expect(resolver.resolve(source({ patientId: 'someone-else' }))).resolves.toEqual({
      deviceId: 'dev-res',
      patientId: 'pat-res',
    });
    expect(store.all('Patient')).toHaveLength(0);
  });

  it('PatientDeviceMismatch when the Device refers to something that is not the Patient', async () => {
    const { store, resolver } = setup('Create');
    store.seed(device({ patient: { reference: 'Group/g1' } }));
    expect(await failure(resolver.resolve(source()))).toMatchObject({
      code: ErrorCode.PatientDeviceMismatch,
      medtechErrorType: 'PatientDeviceMismatchException',
    });
  });

  it('links the Encounter also for a newly created Device (fix of a MedTech quirk)', async () => {
    const { store, resolver } = setup('Create');
    store.seed({
      resourceType: 'Encounter',
      id: 'enc-res',
      status: 'in-progress',
      class: { code: 'AMB' },
      identifier: [{ value: 'visit-9' }],
    });
    await expect(resolver.resolve(source({ encounterId: 'visit-9' }))).resolves.toEqual({
      deviceId: DEVICE_ID,
      patientId: PATIENT_ID,
      encounterId: 'enc-res',
    });
  });

  it('two workers creating the same Patient and Device concurrently converge on one of each', async () => {
    const store = new MemoryFhirStore();
    const clock = new ManualClock();
    const a = createIdentityResolver({ store, mode: 'Create', clock: clock.now });
    const b = createIdentityResolver({ store, mode: 'Create', clock: clock.now });
    const [x, y] = await Promise.all([a.resolve(source()), b.resolve(source())]);
    expect(x).toEqual(y);
    expect(store.all('Patient')).toHaveLength(1);
    expect(store.all('Device')).toHaveLength(1);
  });
});

describe('identity cache', () => {
  it('is keyed by device and encounter id, slides for 2 h, and never keeps failures', async () => {
    const { store, clock, resolver } = setup('Lookup');
    expect(await failure(resolver.resolve(source()))).toMatchObject({ code: ErrorCode.DeviceNotFound });
    store.seed(device());
    await resolver.resolve(source());
    const searches = () => store.callsOf('search').length;
    const before = searches();

    await resolver.resolve(source());
    expect(searches()).toBe(before);

    store.seed({
      resourceType: 'Encounter',
      id: 'enc-res',
      status: 'in-progress',
      class: { code: 'AMB' },
      identifier: [{ value: 'visit-9' }],
    });
    await expect(resolver.resolve(source({ encounterId: 'visit-9' }))).resolves.toMatchObject({
      encounterId: 'enc-res',
    });
    expect(searches()).toBeGreaterThan(before);

    const afterEncounter = searches();
    clock.advance(7_200_000 - 1);
    await resolver.resolve(source());
    clock.advance(7_200_000 - 1);
    await resolver.resolve(source());
    expect(searches()).toBe(afterEncounter);
    clock.advance(7_200_000);
    await resolver.resolve(source());
    expect(searches()).toBe(afterEncounter + 1);
  });

  it('concurrent groups of one device share one lookup', async () => {
    const { store, resolver } = setup('Lookup');
    store.seed(device());
    await Promise.all(Array.from({ length: 5 }, () => resolver.resolve(source())));
    expect(store.callsOf('search')).toHaveLength(1);
  });
});
