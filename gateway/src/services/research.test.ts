import request from 'supertest';
import { createHarnessWithCast, type Harness } from '../testing/harness.js';

// The research routes over the fake ledger: roles, validation, the opt-out at the home
// hospital, and the query logged before it is answered. The suppression rules themselves
// are tested with the chaincode (contracts/research.test.ts) and end to end.
describe('research REST routes', () => {
    let h: Harness;
    let clinician: string;
    let auditor: string;
    let patient: string;
    let patientId: string;
    let researcher: string;
    const auth = (t: string) => ({ Authorization: `Bearer ${t}` });

    beforeAll(async () => {
        ({ h, clinician1: clinician, auditor, patient, patientId } = await createHarnessWithCast());
        researcher = await h.token('res-1', 'researcher');
        for (let i = 0; i < 3; i++) {
            const r = await request(h.apps.h1)
                .post(`/api/v1/patients/${patientId}/records?category=discharge`)
                .set(auth(clinician))
                .set('Content-Type', 'text/plain')
                .send('x');
            expect(r.status).toBe(201);
        }
    });

    test('a researcher gets suppressed counts with the logging txId; other roles are refused with 403', async () => {
        const r = await request(h.apps.h2).get('/api/v1/research/statistics?dimension=category').set(auth(researcher));
        expect(r.status).toBe(200);
        expect(r.body.cells.find((c: { value: string }) => c.value === 'discharge')).toEqual({ value: 'discharge', records: null, patients: null, suppressed: true });
        expect(r.body.total).toEqual({ records: null, patients: null, suppressed: true });
        expect(typeof r.body.txId).toBe('string');
        for (const t of [clinician, auditor, patient]) {
            const refused = await request(h.apps.h2).get('/api/v1/research/statistics?dimension=category').set(auth(t));
            expect(refused.status).toBe(403);
            expect(refused.headers['content-type']).toMatch(/application\/problem\+json/);
        }
    });

    test('an unknown dimension is a 400 and logs nothing', async () => {
        const log = await request(h.apps.h1).get('/api/v1/audit/research-queries').set(auth(auditor));
        const before = log.body.queries.length;
        for (const q of ['dimension=patientId', 'dimension=', '']) {
            const r = await request(h.apps.h2).get(`/api/v1/research/statistics?${q}`).set(auth(researcher));
            expect(r.status).toBe(400);
            expect(r.headers['content-type']).toMatch(/application\/problem\+json/);
        }
        const after = await request(h.apps.h1).get('/api/v1/audit/research-queries').set(auth(auditor));
        expect(after.body.queries).toHaveLength(before);
        expect((await request(h.apps.h1).get('/api/v1/audit/research-queries?limit=0').set(auth(auditor))).status).toBe(400);
        expect((await request(h.apps.h1).get('/api/v1/audit/research-queries').set(auth(researcher))).status).toBe(403);
    });

    test('the patient opts out at the home hospital only; bad bodies are 400', async () => {
        const put = (app: keyof Harness['apps'], body: unknown, t = patient) =>
            request(h.apps[app]).put(`/api/v1/patients/${patientId}/research-preference`).set(auth(t)).send(body as object);
        const set = await put('h1', { optOut: true });
        expect(set.status).toBe(200);
        expect(set.body).toMatchObject({ patientId, optedOut: true });
        expect((await put('h2', { optOut: false })).status).toBe(404);
        expect((await put('h1', { optOut: 'yes' })).status).toBe(400);
        expect((await put('h1', { optOut: true, reason: 'x' })).status).toBe(400);
        expect((await put('h1', { optOut: true }, clinician)).status).toBe(403);
        const read = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/research-preference`).set(auth(clinician));
        expect(read.body).toMatchObject({ optedOut: true });
        const stats = await request(h.apps.h1).get('/api/v1/research/statistics?dimension=category').set(auth(researcher));
        expect(stats.body.cells.find((c: { value: string }) => c.value === 'discharge')).toMatchObject({ records: 0, patients: 0 });
    });
});
