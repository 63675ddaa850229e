import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { unwrapKey, wrapKey } from './crypto/key-wrap.js';
import { createHarness, type Harness } from './testing/harness.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('gateway REST API', () => {
    let h: Harness;
    let clinician1: string;
    let clinician2: string;
    let auditor: string;
    let patient: string;
    let patientId: string;

    beforeEach(async () => {
        h = await createHarness({ bodyLimitBytes: 256 * 1024 });
        clinician1 = await h.token('dr-ana', 'clinician');
        clinician2 = await h.token('dr-ben', 'clinician');
        auditor = await h.token('aud-1', 'auditor');
        patientId = `p-${randomBytes(4).toString('hex')}`;
        patient = await h.token(patientId, 'patient');
        const res = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({ patientId });
        expect(res.status).toBe(201);
    });

    async function store(body: Buffer, contentType = 'application/pdf', query = 'category=imaging&title=MRI%20report&fileName=mri.pdf') {
        return request(h.apps.h1).post(`/api/v1/patients/${patientId}/records?${query}`).set(auth(clinician1)).set('Content-Type', contentType).send(body);
    }

    describe('operations', () => {
        it('reports health of every component, 503 naming what is down', async () => {
            const ok = await request(h.apps.h1).get('/health');
            expect(ok.status).toBe(200);
            expect(ok.body).toEqual({ status: 'ok', components: { fabric: 'up', kubo: 'up', cluster: 'up' }, down: [] });

            h.blobs.kuboUp = false;
            const down = await request(h.apps.h1).get('/health');
            expect(down.status).toBe(503);
            expect(down.headers['retry-after']).toBe('3');
            expect(down.headers['content-type']).toMatch(/application\/problem\+json/);
            expect(down.body).toMatchObject({ status: 503, down: ['kubo'], components: { kubo: 'down', fabric: 'up' } });
        });

        it('serves an OpenAPI 3.1 document covering every operation', async () => {
            const res = await request(h.apps.h1).get('/openapi.json');
            expect(res.status).toBe(200);
            expect(res.body.openapi).toBe('3.1.0');
            expect(Object.keys(res.body.paths)).toEqual(
                expect.arrayContaining([
                    '/api/v1/patients/{patientId}/records',
                    '/api/v1/records/{recordId}/content',
                    '/api/v1/access-requests/{requestId}/approve',
                    '/api/v1/audit/patients/{patientId}',
                ]),
            );
            expect(res.body.paths['/api/v1/patients'].post.responses['201']).toBeDefined();
            expect(res.body.components.securitySchemes.bearerAuth.scheme).toBe('bearer');
        });

        it('exposes Prometheus metrics by route template', async () => {
            await request(h.apps.h1).get(`/api/v1/records/${randomUUID()}`).set(auth(clinician1));
            expect((await request(h.apps.h1).get('/api/v1/records/not-a-uuid').set(auth(clinician1))).status).toBe(400);
            const res = await request(h.apps.h1).get('/metrics');
            expect(res.status).toBe(200);
            expect(res.text).toContain('ehr_http_requests_total{method="GET",route="/api/v1/records/:recordId",status="404"} 1');
            expect(res.text).toContain('ehr_http_request_duration_seconds_bucket');
        });

        it('echoes a request ID, or makes one', async () => {
            const res = await request(h.apps.h1).get('/health').set('X-Request-Id', 'abc-123');
            expect(res.headers['x-request-id']).toBe('abc-123');
            const made = await request(h.apps.h1).get('/health').set('X-Request-Id', 'bad id <script>');
            expect(made.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
        });

        it('answers unknown routes with a 404 problem', async () => {
            const res = await request(h.apps.h1).get('/api/v1/nowhere').set(auth(clinician1));
            expect(res.status).toBe(404);
            expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        });
    });

    describe('patients and hospitals', () => {
        it('lists hospitals for any role and refuses without a token', async () => {
            const res = await request(h.apps.h1).get('/api/v1/hospitals').set(auth(patient));
            expect(res.status).toBe(200);
            expect(res.body.map((x: { mspId: string }) => x.mspId)).toEqual(['Hospital1MSP', 'Hospital2MSP']);
            expect((await request(h.apps.h1).get('/api/v1/hospitals')).status).toBe(401);
        });

        it('registers a patient with a chosen or generated ID; 409 on a replay', async () => {
            const generated = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({});
            expect(generated.status).toBe(201);
            expect(generated.body).toMatchObject({ patientId: expect.any(String), homeHospital: 'Hospital1MSP', txId: expect.any(String) });
            const replay = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({ patientId });
            expect(replay.status).toBe(409);
            expect(replay.body).toMatchObject({ status: 409, title: 'Conflict' });
        });

        it('validates the body and lists every bad field', async () => {
            const wrongType = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({ patientId: 42, extra: true });
            expect(wrongType.status).toBe(400);
            expect(wrongType.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['body.patientId', 'body']));
            const malformed = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).set('Content-Type', 'application/json').send('{"patientId":');
            expect(malformed.status).toBe(400);
            expect(malformed.body.detail).toBe('malformed JSON body');
        });

        it('refuses a patient token and an oversized JSON body', async () => {
            expect((await request(h.apps.h1).post('/api/v1/patients').set(auth(patient)).send({})).status).toBe(403);
            const big = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({ patientId: 'x'.repeat(20_000) });
            expect(big.status).toBe(413);
            expect(big.headers['content-type']).toMatch(/application\/problem\+json/);
        });
    });

    describe('records', () => {
        it('stores and reads back a document: encrypted at rest, original bytes and type on read', async () => {
            const document = randomBytes(200_000);
            const stored = await store(document);
            expect(stored.status).toBe(201);
            expect(stored.body).toMatchObject({
                recordId: expect.any(String),
                patientId,
                custodian: 'Hospital1MSP',
                cid: expect.stringMatching(/^bafk/),
                plaintextSize: document.length,
                category: 'imaging',
                sha256: sha256(document),
                txId: expect.any(String),
                createdAt: expect.any(String),
            });
            const blob = h.blobs.blobs.get(stored.body.cid)!;
            expect(blob.includes(document.subarray(0, 64))).toBe(false);
            expect(stored.body.ciphertextSize).toBe(blob.length);
            expect(stored.body).not.toHaveProperty('size');
            expect(h.network.envelopes.get('Hospital1MSP')?.has(stored.body.recordId)).toBe(true);

            const read = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1)).buffer(true).parse(binary as never);
            expect(read.status).toBe(200);
            expect(read.headers['content-type']).toBe('application/pdf');
            expect(read.headers['content-disposition']).toBe(`attachment; filename="mri.pdf"; filename*=UTF-8''mri.pdf`);
            expect(read.headers['x-content-type-options']).toBe('nosniff');
            expect(read.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
            expect(Buffer.compare(read.body as Buffer, document)).toBe(0);

            const meta = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}`).set(auth(auditor));
            expect(meta.status).toBe(200);
            expect(meta.body).toMatchObject({ recordId: stored.body.recordId, status: 'active', ciphertextSize: blob.length });
            expect(meta.body).not.toHaveProperty('size');
        });

        it('round-trips an empty document and keeps a text content type', async () => {
            const stored = await store(Buffer.alloc(0), 'text/plain; charset=utf-8', 'category=note');
            expect(stored.status).toBe(201);
            expect(stored.body.plaintextSize).toBe(0);
            const read = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(patient));
            expect(read.status).toBe(200);
            expect(read.headers['content-type']).toBe('text/plain; charset=utf-8');
            expect(read.text).toBe('');
        });

        it('logs the access before disclosing anything', async () => {
            const stored = await store(Buffer.from('hello'));
            h.network.calls.length = 0;
            await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1));
            expect(h.network.calls.indexOf('logAccess')).toBeLessThan(h.network.calls.indexOf('readEnvelope'));
            expect(h.network.events.filter((e) => e.type === 'RecordAccessed')).toHaveLength(1);
        });

        it('rejects bad input before writing anything to IPFS or the ledger', async () => {
            const post = (path: string, token = clinician1) => request(h.apps.h1).post(path).set(auth(token)).set('Content-Type', 'application/octet-stream').send(Buffer.from('x'));
            const cases = [
                post(`/api/v1/patients/${patientId}/records?category=xray`),
                post(`/api/v1/patients/${patientId}/records`),
                post(`/api/v1/patients/unknown-patient/records?category=lab`),
                post(`/api/v1/patients/${patientId}/records?category=lab`, patient),
                post(`/api/v1/patients/bad%20id/records?category=lab`),
            ];
            const statuses = [];
            for (const c of cases) statuses.push((await c).status);
            expect(statuses).toEqual([400, 400, 404, 403, 400]);
            expect(h.blobs.adds).toBe(0);
            expect(h.network.calls).not.toContain('createRecord');
        });

        it('answers 413 for a document over the limit, declared or streamed, and stores nothing', async () => {
            const declared = await store(randomBytes(300 * 1024));
            expect(declared.status).toBe(413);
            expect(declared.body).toMatchObject({ status: 413, title: 'Payload too large' });
            expect(h.blobs.adds).toBe(0);

            const streamed = await postChunked(h, `/api/v1/patients/${patientId}/records?category=lab`, clinician1, [randomBytes(200 * 1024), randomBytes(200 * 1024)]);
            expect(streamed.status).toBe(413);
            expect(h.blobs.blobs.size).toBe(0);
            expect(h.network.calls).not.toContain('createRecord');
        });

        it('answers 503 with Retry-After when IPFS is down, and writes nothing to the ledger', async () => {
            h.blobs.clusterUp = false;
            const res = await store(Buffer.from('x'));
            expect(res.status).toBe(503);
            expect(res.headers['retry-after']).toBe('3');
            expect(h.network.calls).not.toContain('createRecord');
        });

        it('answers 503 when Fabric is down', async () => {
            h.network.fabricUp = false;
            const res = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({});
            expect(res.status).toBe(503);
            expect(res.body.dependency).toBe('fabric');
        });

        it('lists records for clinicians and the patient, not for another patient', async () => {
            const stored = await store(Buffer.from('x'));
            const list = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auth(patient));
            expect(list.status).toBe(200);
            expect(list.body.map((r: { recordId: string }) => r.recordId)).toEqual([stored.body.recordId]);
            const other = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auth(await h.token('p-other', 'patient')));
            expect(other.status).toBe(403);
            expect((await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auth(auditor))).status).toBe(403);
        });

        it('verifies a record against the ledger and IPFS', async () => {
            const stored = await store(randomBytes(1000));
            const res = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/verify`).set(auth(auditor));
            expect(res.status).toBe(200);
            expect(res.body).toEqual({
                cid: stored.body.cid,
                ledgerTxId: stored.body.txId,
                blockNumber: expect.any(Number),
                pinnedOn: ['hospital1', 'hospital2'],
                status: 'active',
                state: 'intact',
                intact: true,
                detail: expect.any(String),
            });

            h.blobs.blobs.set(stored.body.cid, Buffer.alloc(5));
            const broken = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/verify`).set(auth(auditor));
            expect(broken.body).toMatchObject({ status: 'active', state: 'corrupted', intact: false });

            h.blobs.blobs.delete(stored.body.cid);
            const missing = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/verify`).set(auth(auditor));
            expect(missing.body).toMatchObject({ status: 'active', state: 'missing', intact: false });
        });

        it('erases a record: content is 410 afterwards, the blob unpinned, a second erase 410', async () => {
            const stored = await store(Buffer.from('secret'));
            expect((await request(h.apps.h1).delete(`/api/v1/records/${stored.body.recordId}`).set(auth(clinician1))).status).toBe(403);
            const erased = await request(h.apps.h1).delete(`/api/v1/records/${stored.body.recordId}`).set(auth(patient));
            expect(erased.status).toBe(200);
            expect(erased.body).toMatchObject({ recordId: stored.body.recordId, status: 'erased' });
            expect(h.blobs.pinned.has(stored.body.cid)).toBe(false);

            const content = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1));
            expect(content.status).toBe(410);
            expect(content.body).toMatchObject({ status: 410, title: 'Gone' });
            expect((await request(h.apps.h2).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician2))).status).toBe(410);
            expect((await request(h.apps.h1).delete(`/api/v1/records/${stored.body.recordId}`).set(auth(patient))).status).toBe(410);
        });

        it('validates the purpose-of-use header', async () => {
            const stored = await store(Buffer.from('x'));
            const res = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1)).set('X-Purpose-Of-Use', 'curiosity');
            expect(res.status).toBe(400);
            expect(res.body.errors[0].field).toBe('headers.x-purpose-of-use');
        });
    });

    describe('consents and access requests across hospitals', () => {
        it('another hospital reads only under consent; 503 until its envelope is delivered; revocation ends it', async () => {
            const stored = await store(Buffer.from('lab values'), 'text/plain', 'category=lab');
            const recordId = stored.body.recordId;
            const path = `/api/v1/records/${recordId}/content`;

            expect((await request(h.apps.h2).get(path).set(auth(clinician2))).status).toBe(403);

            const consent = await request(h.apps.h1)
                .post(`/api/v1/patients/${patientId}/consents`)
                .set(auth(patient))
                .send({ grantee: 'Hospital2MSP', scope: { categories: ['lab'] }, purposes: ['treatment'] });
            expect(consent.status).toBe(201);
            expect(consent.body).toMatchObject({ consentId: expect.any(String), status: 'active' });

            const pending = await request(h.apps.h2).get(path).set(auth(clinician2));
            expect(pending.status).toBe(503);
            expect(pending.headers['retry-after']).toBe('3');

            // What the custodian's event follower does: deliver an envelope to the grantee.
            deliverEnvelope(h, recordId, 'Hospital1MSP', 'Hospital2MSP');

            const read = await request(h.apps.h2).get(path).set(auth(clinician2));
            expect(read.status).toBe(200);
            expect(read.text).toBe('lab values');
            expect((await request(h.apps.h2).get(path).set(auth(clinician2)).set('X-Purpose-Of-Use', 'research')).status).toBe(403);

            const list = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/consents`).set(auth(clinician1));
            expect(list.status).toBe(200);
            expect(list.body).toHaveLength(1);
            expect((await request(h.apps.h2).get(`/api/v1/patients/${patientId}/consents`).set(auth(clinician2))).status).toBe(403);

            const revoked = await request(h.apps.h1).delete(`/api/v1/consents/${consent.body.consentId}`).set(auth(patient));
            expect(revoked.status).toBe(200);
            expect(revoked.body).toMatchObject({ consentId: consent.body.consentId, status: 'revoked' });
            expect((await request(h.apps.h2).get(path).set(auth(clinician2))).status).toBe(403);
            expect((await request(h.apps.h1).delete(`/api/v1/consents/${consent.body.consentId}`).set(auth(patient))).status).toBe(409);
        });

        it('validates consent bodies', async () => {
            const res = await request(h.apps.h1)
                .post(`/api/v1/patients/${patientId}/consents`)
                .set(auth(patient))
                .send({ grantee: 'Hospital2MSP', scope: { categories: ['lab'], recordIds: ['r1'] }, purposes: [], expiresAt: '2001-01-01T00:00:00Z' });
            expect(res.status).toBe(400);
            expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining(['body.scope', 'body.purposes', 'body.expiresAt']));
            const otherPatient = await request(h.apps.h1)
                .post(`/api/v1/patients/${patientId}/consents`)
                .set(auth(await h.token('p-other', 'patient')))
                .send({ grantee: 'Hospital2MSP', purposes: ['treatment'] });
            expect(otherPatient.status).toBe(403);
        });

        it('an approved access request becomes a consent; a decided one cannot be decided again', async () => {
            const created = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(clinician2)).send({ patientId, purpose: 'treatment', reason: 'referral' });
            expect(created.status).toBe(201);
            expect(created.body).toMatchObject({ requestId: expect.any(String), status: 'pending' });

            const listed = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/access-requests`).set(auth(patient));
            expect(listed.body.map((r: { requestId: string }) => r.requestId)).toEqual([created.body.requestId]);

            const approved = await request(h.apps.h1).post(`/api/v1/access-requests/${created.body.requestId}/approve`).set(auth(patient)).send({});
            expect(approved.status).toBe(200);
            expect(approved.body).toMatchObject({ requestId: created.body.requestId, status: 'approved', consentId: expect.any(String) });
            const consent = h.network.consents.get(approved.body.consentId)!;
            expect(consent).toMatchObject({ grantee: 'Hospital2MSP', purposes: ['treatment'], scope: { type: 'all' }, expiresAt: null });

            const again = await request(h.apps.h1).post(`/api/v1/access-requests/${created.body.requestId}/reject`).set(auth(patient));
            expect(again.status).toBe(409);
            expect((await request(h.apps.h1).post(`/api/v1/access-requests/${created.body.requestId}/approve`).set(auth(clinician1)).send({})).status).toBe(403);
        });

        it('rejects an access request for an unknown patient with 404', async () => {
            const res = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(clinician2)).send({ patientId: 'nobody', purpose: 'treatment', reason: 'x' });
            expect(res.status).toBe(404);
        });
    });

    describe('audit', () => {
        it('gives auditors every event of a record and patients their own trail', async () => {
            const stored = await store(Buffer.from('x'));
            await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1));
            const trail = await request(h.apps.h1).get(`/api/v1/audit/records/${stored.body.recordId}`).set(auth(auditor));
            expect(trail.status).toBe(200);
            expect(trail.body.map((e: { type: string }) => e.type)).toEqual(['RecordCreated', 'RecordAccessed']);
            expect(trail.body[1]).toMatchObject({ hospital: 'Hospital1MSP', actor: 'dr-ana', purpose: 'treatment', basis: 'custodian', txId: expect.any(String) });

            const mine = await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(patient));
            expect(mine.status).toBe(200);
            expect(mine.body[0].type).toBe('PatientRegistered');
            expect((await request(h.apps.h1).get(`/api/v1/audit/records/${stored.body.recordId}`).set(auth(clinician1))).status).toBe(403);
            expect((await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(await h.token('p-x', 'patient')))).status).toBe(403);
        });
    });
});

/** Stands in for the custodian's event follower: unwrap with the custodian's key, wrap for the grantee. */
function deliverEnvelope(h: Harness, recordId: string, custodian: string, grantee: string): void {
    const own = h.network.envelopes.get(custodian)!.get(recordId)!;
    const dataKey = unwrapKey(own, h.privateKeys.get(custodian)!, { recordId, mspId: custodian });
    const envelope = wrapKey(dataKey, h.network.hospitals.get(grantee)!.publicKey, { recordId, mspId: grantee });
    const held = h.network.envelopes.get(grantee) ?? new Map<string, string>();
    held.set(recordId, envelope);
    h.network.envelopes.set(grantee, held);
}

function binary(res: NodeJS.ReadableStream, callback: (err: Error | null, body: Buffer) => void): void {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => callback(null, Buffer.concat(chunks)));
}

function sha256(data: Buffer): string {
    return createHash('sha256').update(data).digest('hex');
}

/** A chunked upload (no Content-Length), which supertest cannot stream. */
async function postChunked(h: Harness, path: string, token: string, chunks: Buffer[]): Promise<{ status: number; body: unknown }> {
    const server = h.apps.h1.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    try {
        return await new Promise((resolve, reject) => {
            const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' } }, (res) => {
                const parts: Buffer[] = [];
                res.on('data', (c: Buffer) => parts.push(c));
                res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(parts).toString() || 'null') }));
            });
            // The server may answer and close before the client has sent everything.
            req.on('error', (err) => (err as NodeJS.ErrnoException).code === 'EPIPE' || (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(err));
            for (const chunk of chunks) req.write(chunk);
            req.end();
        });
    } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
    }
}
