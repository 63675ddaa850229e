import type { Bundle, Observation } from 'fhir/r4.js';
import request from 'supertest';
import { createHarnessWithCast } from '../testing/harness.js';
import { validateResource } from './validator.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 8) + s * 1000).toISOString();

beforeAll(() => validateResource({ resourceType: 'Bundle', type: 'searchset' }), 60_000);

describe('FHIR Observation (vital signs)', () => {
    it('shows each sample the caller may read as a valid vital-signs Observation, filtered by code and date, each chunk read audited', async () => {
        const { h, clinician1, patientId, patient } = await createHarnessWithCast();
        const samples = [
            { t: at(0), code: 'heart-rate', value: 72, unit: '/min' },
            { t: at(1), code: 'spo2', value: 97, unit: '%' },
            { t: at(2), code: 'ecg-ii', values: [0.1, 0.5, -0.1], periodMs: 4, unit: 'mV' },
            { t: at(70), code: 'heart-rate', value: 75, unit: '/min' },
        ];
        const posted = await request(h.apps.h1)
            .post(`/api/v1/patients/${patientId}/vitals`)
            .set(auth(clinician1))
            .set('Content-Type', 'application/x-ndjson')
            .send(samples.map((s) => JSON.stringify(s)).join('\n'));
        expect(posted.status).toBe(201);
        expect(posted.body.chunks).toHaveLength(2);

        const search = (query: Record<string, string>) =>
            request(h.apps.h1).get('/fhir/R4/Observation').query({ 'patient.identifier': `urn:ehr:patient-id|${patientId}`, ...query }).set(auth(clinician1));
        const all = await search({});
        expect(all.status).toBe(200);
        const bundle = JSON.parse(all.text) as Bundle<Observation>;
        expect(validateResource(bundle)).toEqual([]);
        expect(bundle.total).toBe(4);
        const hr = bundle.entry!.map((e) => e.resource!).find((o) => o.effectiveDateTime === at(0))!;
        expect(hr).toMatchObject({
            status: 'final',
            category: [{ coding: [{ code: 'vital-signs' }] }],
            code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
            valueQuantity: { value: 72, system: 'http://unitsofmeasure.org', code: '/min' },
            derivedFrom: [{ reference: `DocumentReference/${posted.body.chunks[0].recordId}` }],
        });
        const ecg = bundle.entry!.map((e) => e.resource!).find((o) => o.effectiveDateTime === at(2))!;
        expect(ecg.valueSampledData).toMatchObject({ period: 4, dimensions: 1, data: '0.1 0.5 -0.1' });

        const heartRates = JSON.parse((await search({ code: 'http://loinc.org|8867-4' })).text) as Bundle<Observation>;
        expect(heartRates.entry!.map((e) => e.resource!.valueQuantity!.value)).toEqual([75, 72]);
        const early = JSON.parse((await search({ date: `lt${at(60)}` })).text) as Bundle<Observation>;
        expect(early.total).toBe(3);

        // Three searches read both chunks: six access entries, one per chunk read.
        const audit = await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(patient));
        expect(audit.body.filter((e: { type: string }) => e.type === 'RecordAccessed')).toHaveLength(6);

        // Paged across the two chunks by following next: the same samples, newest first, once each.
        const paged: string[] = [];
        let page = JSON.parse((await search({ _count: '3' })).text) as Bundle<Observation>;
        for (;;) {
            paged.push(...page.entry!.map((e) => e.resource!.id!));
            const next = page.link!.find((l) => l.relation === 'next');
            if (!next) break;
            page = JSON.parse((await request(h.apps.h1).get(new URL(next.url).pathname + new URL(next.url).search).set(auth(clinician1))).text) as Bundle<Observation>;
        }
        expect(paged).toEqual(bundle.entry!.map((e) => e.resource!.id!));
        expect(bundle.entry!.map((e) => e.resource!.effectiveDateTime)).toEqual([at(70), at(2), at(1), at(0)]);
    });

    it('answers an empty bundle where the hospital may see no vitals (need-to-know)', async () => {
        const { h, clinician1, patientId } = await createHarnessWithCast();
        const other = await h.token('dr-h2', 'clinician');
        await request(h.apps.h1)
            .post(`/api/v1/patients/${patientId}/vitals`)
            .set(auth(clinician1))
            .set('Content-Type', 'application/x-ndjson')
            .send(JSON.stringify({ t: at(0), code: 'heart-rate', value: 72, unit: '/min' }));
        const res = await request(h.apps.h2).get('/fhir/R4/Observation').query({ patient: `urn:ehr:patient-id|${patientId}` }).set(auth(other));
        expect(res.status).toBe(200);
        expect((JSON.parse(res.text) as Bundle).total).toBe(0);
    });
});
