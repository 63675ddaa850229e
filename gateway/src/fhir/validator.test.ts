import { validateResource } from './validator.js';

describe('FHIR R4 schema validation', () => {
    const reference = {
        resourceType: 'DocumentReference',
        status: 'current',
        content: [{ attachment: { contentType: 'text/plain', url: 'Binary/1' } }],
    };

    it('accepts a valid resource and names the elements of an invalid one', () => {
        expect(validateResource(reference)).toEqual([]);
        expect(validateResource({ ...reference, status: 'nonsense' })).toEqual([
            { path: 'DocumentReference.status', message: 'should be equal to one of the allowed values ["current","superseded","entered-in-error"]' },
        ]);
        expect(validateResource({ ...reference, bogus: 1 })).toEqual([{ path: 'DocumentReference', message: 'should NOT have additional properties: bogus' }]);
    });

    it('judges every R4 type, not only those the endpoint takes in', () => {
        expect(validateResource({ resourceType: 'Observation', status: 'final', code: { text: 'pulse' } })).toEqual([]);
        expect(validateResource({ resourceType: 'Observation', status: 'final' })).toEqual([{ path: 'Observation', message: "should have required property 'code'" }]);
        expect(validateResource({ resourceType: 'NoSuchThing' })).toEqual([{ path: 'resourceType', message: "'NoSuchThing' is not an R4 resource type" }]);
    });

    it('validates a contained resource against its own type, with its place in the path', () => {
        const patient = { resourceType: 'Patient', id: 'p1', gender: 'male' };
        expect(validateResource({ ...reference, contained: [patient] })).toEqual([]);
        const issues = validateResource({ ...reference, contained: [patient, { ...patient, id: 'p2', gender: 'sometimes' }] });
        expect(issues).toEqual([expect.objectContaining({ path: 'DocumentReference.contained[1].Patient.gender' })]);
        expect(validateResource({ ...reference, contained: [{ id: 'no-type' }] })).toEqual([
            { path: 'DocumentReference.contained[0].resourceType', message: 'resourceType is missing' },
        ]);
    });

    it('validates each Bundle entry against its own type', () => {
        const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: reference }, { resource: { ...reference, status: 'nonsense' } }] };
        expect(validateResource(bundle)).toEqual([expect.objectContaining({ path: 'Bundle.entry[1].resource.DocumentReference.status' })]);
    });
});
