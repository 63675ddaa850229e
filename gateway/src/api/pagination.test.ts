import request from 'supertest';
import { createHarnessWithCast, type Harness } from '../testing/harness.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const nextOf = (link: string | undefined) => (link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined);

describe('paginated lists', () => {
    let h: Harness;
    let clinician1: string;
    let auditor: string;
    let patientId: string;
    const stored: string[] = [];

    beforeEach(async () => {
        ({ h, clinician1, auditor, patientId } = await createHarnessWithCast());
        stored.length = 0;
        for (let i = 0; i < 5; i++) {
            const res = await request(h.apps.h1)
                .post(`/api/v1/patients/${patientId}/records?category=lab`)
                .set(auth(clinician1))
                .set('Content-Type', 'text/plain')
                .send(`result ${i}`);
            expect(res.status).toBe(201);
            stored.push(res.body.recordId);
        }
    });

    it('answers the array of one page and the next page in a Link header, until the last', async () => {
        const seen: string[] = [];
        let path: string | undefined = `/api/v1/patients/${patientId}/records?limit=2`;
        let pages = 0;
        while (path) {
            const res = await request(h.apps.h1).get(path).set(auth(clinician1));
            expect(res.status).toBe(200);
            expect(Array.isArray(res.body)).toBe(true);
            expect(res.body.length).toBeLessThanOrEqual(2);
            seen.push(...res.body.map((r: { recordId: string }) => r.recordId));
            path = nextOf(res.headers.link);
            pages++;
        }
        expect(pages).toBe(3);
        expect(seen.sort()).toEqual([...stored].sort());
    });

    it('without a limit: the default page, and no Link when everything fits', async () => {
        const res = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auth(clinician1));
        expect(res.status).toBe(200);
        expect(res.body).toHaveLength(5);
        expect(res.headers.link).toBeUndefined();
    });

    it.each([['0'], ['201'], ['-3'], ['abc'], ['1.5'], ['']])('limit=%s is a 400 problem naming query.limit', async (limit) => {
        const res = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records?limit=${limit}`).set(auth(clinician1));
        expect(res.status).toBe(400);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(JSON.stringify(res.body.errors)).toContain('query.limit');
    });

    it('a garbled cursor, a forged one and one of another list are 400 problems naming query.cursor', async () => {
        const first = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records?limit=2`).set(auth(clinician1));
        const cursor = new URL(`http://x${nextOf(first.headers.link)}`).searchParams.get('cursor') as string;
        const forged = Buffer.from(JSON.stringify([1, 'records', patientId, 7])).toString('base64url');
        for (const [path, bad] of [
            [`/api/v1/patients/${patientId}/records`, 'not*base64'],
            [`/api/v1/patients/${patientId}/records`, Buffer.from('{"a":1}').toString('base64url')],
            [`/api/v1/patients/${patientId}/records`, forged],
            [`/api/v1/patients/${patientId}/consents`, cursor],
            [`/api/v1/audit/patients/${patientId}`, cursor],
        ]) {
            const res = await request(h.apps.h1).get(`${path}?cursor=${bad}`).set(auth(path.startsWith('/api/v1/audit') ? auditor : clinician1));
            expect(res.status).toBe(400);
            expect(JSON.stringify(res.body.errors)).toContain('query.cursor');
        }
    });
});

describe('paginated lists in the OpenAPI document', () => {
    it('every list takes limit and cursor and documents the Link header', async () => {
        const { openApiDocument } = await import('./openapi.js');
        const paths = openApiDocument().paths as Record<string, { get: { parameters?: { name: string; in: string }[]; responses: Record<string, { headers?: Record<string, unknown> }> } }>;
        for (const path of [
            '/api/v1/patients/{patientId}/records',
            '/api/v1/patients/{patientId}/consents',
            '/api/v1/patients/{patientId}/access-requests',
            '/api/v1/audit/records/{recordId}',
            '/api/v1/audit/patients/{patientId}',
        ]) {
            const get = paths[path].get;
            expect(get.parameters?.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(['cursor', 'limit']);
            expect(Object.keys(get.responses['200'].headers ?? {})).toEqual(['Link']);
        }
    });
});
