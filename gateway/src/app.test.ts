import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import request from 'supertest';
import { unwrapKey, wrapKey } from './crypto/key-wrap.js';
import { createHarness, createHarnessWithCast, type Harness } from './testing/harness.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('gateway REST API', () => {
    let h: Harness;
    let clinician1: string;
    let clinician2: string;
    let auditor: string;
    let patient: string;
    let patientId: string;

    beforeEach(async () => {
        ({ h, clinician1, clinician2, auditor, patient, patientId } = await createHarnessWithCast({ bodyLimitBytes: 256 * 1024 }));
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
            // Issued in this hospital's namespace, unguessable.
            expect(generated.body).toMatchObject({ patientId: expect.stringMatching(/^Hospital1MSP:[0-9a-f-]{36}$/), homeHospital: 'Hospital1MSP', txId: expect.any(String) });
            const replay = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({ patientId });
            expect(replay.status).toBe(409);
            expect(replay.body).toMatchObject({ status: 409, title: 'Conflict' });
        });

        it("registers only in this hospital's namespace: no capture of another hospital's patients", async () => {
            const before = h.network.patients.size;
            for (const id of ['pat-001', 'Hospital2MSP:pat-001', 'Hospital1MSPx:pat-001']) {
                const res = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).send({ patientId: id });
                expect(res.status).toBe(400);
                expect(res.body.detail).toMatch(/start with 'Hospital1MSP:'.*or omit patientId/);
            }
            expect(h.network.patients.size).toBe(before);
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

        it('logs the access before disclosing anything, and after reading the envelope (which discloses nothing)', async () => {
            const stored = await store(Buffer.from('hello'));
            h.network.calls.length = 0;
            // What the ledger had been asked when the blob was first fetched.
            let callsAtCat: string[] | undefined;
            const cat = h.blobs.cat.bind(h.blobs);
            h.blobs.cat = (cid: string) => {
                callsAtCat ??= [...h.network.calls];
                return cat(cid);
            };
            const res = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1));
            expect(res.status).toBe(200);
            // One evaluation gives the record and the envelope; the access entry comes after it.
            expect(h.network.calls.indexOf('openRecord')).toBeGreaterThanOrEqual(0);
            expect(h.network.calls.indexOf('openRecord')).toBeLessThan(h.network.calls.indexOf('logAccess'));
            expect(h.network.calls).not.toContain('getRecord');
            expect(callsAtCat).toContain('logAccess');
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
            expect((await request(h.apps.h2).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician2))).status).toBe(404); // no basis at hospital 2: need-to-know, as the chaincode answers
            expect((await request(h.apps.h1).delete(`/api/v1/records/${stored.body.recordId}`).set(auth(patient))).status).toBe(410);
        });

        it('validates the purpose-of-use header', async () => {
            const stored = await store(Buffer.from('x'));
            const res = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1)).set('X-Purpose-Of-Use', 'curiosity');
            expect(res.status).toBe(400);
            expect(res.body.errors[0].field).toBe('headers.x-purpose-of-use');
        });
    });

    describe('newcomer mistakes', () => {
        const records = () => `/api/v1/patients/${patientId}/records?category=lab`;
        const nothingStored = () => {
            expect(h.blobs.blobs.size).toBe(0);
            expect(h.network.calls).not.toContain('createRecord');
        };

        it('stores the file part of a multipart upload (curl -F) with its filename and type, not the wrapper', async () => {
            const document = randomBytes(70_000);
            const stored = await request(h.apps.h1).post(records()).set(auth(clinician1)).attach('file', document, { filename: 'report.pdf', contentType: 'application/pdf' });
            expect(stored.status).toBe(201);
            expect(stored.body).toMatchObject({ plaintextSize: document.length, sha256: sha256(document) });
            const read = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1)).buffer(true).parse(binary as never);
            expect(read.status).toBe(200);
            expect(read.headers['content-type']).toBe('application/pdf');
            expect(read.headers['content-disposition']).toContain('filename="report.pdf"');
            expect(Buffer.compare(read.body as Buffer, document)).toBe(0);
        });

        it('lets the query fileName win over the part filename', async () => {
            const stored = await request(h.apps.h1).post(`${records()}&fileName=chosen.txt`).set(auth(clinician1)).attach('document', Buffer.from('hi'), { filename: 'upload.txt', contentType: 'text/plain' });
            expect(stored.status).toBe(201);
            const read = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/content`).set(auth(clinician1));
            expect(read.headers['content-disposition']).toContain('filename="chosen.txt"');
            expect(read.text).toBe('hi');
        });

        it('refuses forms with two files, extra fields or no file (400) and stores nothing', async () => {
            const twoFiles = await request(h.apps.h1).post(records()).set(auth(clinician1)).attach('a', Buffer.from('one'), 'a.txt').attach('b', Buffer.from('two'), 'b.txt');
            expect(twoFiles.status).toBe(400);
            expect(twoFiles.body.detail).toMatch(/more than one file part/);
            const fieldAfter = await request(h.apps.h1).post(records()).set(auth(clinician1)).attach('file', Buffer.from('doc'), 'doc.txt').field('title', 'x');
            expect(fieldAfter.status).toBe(400);
            expect(fieldAfter.body.detail).toMatch(/form field "title" is not accepted.*query string/);
            const fieldOnly = await request(h.apps.h1).post(records()).set(auth(clinician1)).field('title', 'x');
            expect(fieldOnly.status).toBe(400);
            const empty = await request(h.apps.h1).post(records()).set(auth(clinician1)).set('Content-Type', 'multipart/form-data; boundary=xyz').send('--xyz--\r\n');
            expect(empty.status).toBe(400);
            expect(empty.body.detail).toMatch(/no file part.*curl -F file=@report\.pdf/);
            const noBoundary = await request(h.apps.h1).post(records()).set(auth(clinician1)).set('Content-Type', 'multipart/form-data').send('x');
            expect(noBoundary.status).toBe(400);
            nothingStored();
        });

        it('holds a multipart file to the document limit, declared or streamed', async () => {
            const declared = await request(h.apps.h1).post(records()).set(auth(clinician1)).attach('file', randomBytes(300 * 1024), 'big.bin');
            expect(declared.status).toBe(413);
            const head = Buffer.from('--b0\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n');
            const streamed = await postChunked(h, records(), clinician1, [head, randomBytes(200 * 1024), randomBytes(200 * 1024), Buffer.from('\r\n--b0--\r\n')], {
                'Content-Type': 'multipart/form-data; boundary=b0',
            });
            expect(streamed.status).toBe(413);
            nothingStored();
        });

        it('answers 415 with the --data-binary hint for an upload without a Content-Type, or as a urlencoded form', async () => {
            const none = await postChunked(h, records(), clinician1, [Buffer.from('%PDF-1.7')], {});
            expect(none.status).toBe(415);
            expect((none.body as { detail: string }).detail).toMatch(/no Content-Type.*--data-binary @report\.pdf -H 'Content-Type: application\/pdf'/);
            const form = await request(h.apps.h1).post(records()).set(auth(clinician1)).type('form').send('%PDF-1.7');
            expect(form.status).toBe(415);
            expect(form.headers['content-type']).toMatch(/^application\/problem\+json/);
            expect(form.body.detail).toMatch(/x-www-form-urlencoded.*--data-binary/);
            expect(form.body.accepted).toEqual(['multipart/form-data', '*/*']);
            nothingStored();
        });

        it('answers 415 naming application/json to a JSON operation sent a form, text or XML, and writes nothing', async () => {
            const form = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).set('Content-Type', 'application/x-www-form-urlencoded').send('{"patientId":"pat-002"}');
            expect(form.status).toBe(415);
            expect(form.body).toMatchObject({ status: 415, title: 'Unsupported media type', accepted: ['application/json'] });
            expect(form.body.detail).toMatch(/Content-Type: application\/json.*curl -d/);
            expect(form.headers['accept-post']).toBe('application/json');
            const text = await request(h.apps.h1).post(`/api/v1/patients/${patientId}/consents`).set(auth(patient)).set('Content-Type', 'text/plain').send(JSON.stringify({ grantee: 'Hospital2MSP', purposes: ['treatment'] }));
            expect(text.status).toBe(415);
            const xml = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(clinician2)).set('Content-Type', 'application/xml').send('<request/>');
            expect(xml.status).toBe(415);
            const noType = await postChunked(h, '/api/v1/patients', clinician1, [Buffer.from('{"patientId":"pat-003"}')], {});
            expect(noType.status).toBe(415);
            expect(h.network.patients.has('pat-002')).toBe(false);
            expect(h.network.calls).not.toEqual(expect.arrayContaining(['registerPatient', 'grantConsent', 'createRequest']));
            expect(h.network.events.map((e) => e.type)).toEqual(['PatientRegistered']);

            // A body-less POST still works, and a +json type is JSON.
            const generated = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1));
            expect(generated.status).toBe(201);
            const merge = await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician1)).set('Content-Type', 'application/merge-patch+json').send('{"patientId":"Hospital1MSP:pat-004"}');
            expect(merge.status).toBe(201);
        });

        it('serves the stored type whatever the file name says, never sniffed, active types as attachments in a sandbox', async () => {
            const html = await store(Buffer.from('<script>alert(1)</script>'), 'text/html', 'category=note&fileName=report.pdf');
            const read = await request(h.apps.h1).get(`/api/v1/records/${html.body.recordId}/content`).set(auth(clinician1));
            expect(read.headers['content-type']).toBe('text/html');
            expect(read.headers['content-disposition']).toMatch(/^attachment; filename="report\.pdf"/);
            expect(read.headers['x-content-type-options']).toBe('nosniff');
            expect(read.headers['content-security-policy']).toBe("sandbox; default-src 'none'");

            const svg = await store(Buffer.from('<svg/>'), 'image/svg+xml', 'category=imaging');
            const svgRead = await request(h.apps.h1).get(`/api/v1/records/${svg.body.recordId}/content`).set(auth(clinician1));
            expect(svgRead.headers['content-type']).toBe('image/svg+xml');
            expect(svgRead.headers['content-disposition']).toBe('attachment');

            const text = await store(Buffer.from('plain'), 'text/plain', 'category=note');
            const textRead = await request(h.apps.h1).get(`/api/v1/records/${text.body.recordId}/content`).set(auth(clinician1));
            expect(textRead.headers['content-disposition']).toBeUndefined();
            expect(textRead.headers['x-content-type-options']).toBe('nosniff');
            expect(textRead.headers['content-security-policy']).toBe("sandbox; default-src 'none'");
        });

        it('a purpose denial names the header, its default and the purposes of consents to this hospital only', async () => {
            h.network.addHospital('Hospital3MSP', h.network.hospitals.get('Hospital2MSP')!.publicKey);
            const stored = await store(Buffer.from('lab values'), 'text/plain', 'category=lab');
            const grant = (grantee: string, purposes: string[]) =>
                request(h.apps.h1).post(`/api/v1/patients/${patientId}/consents`).set(auth(patient)).send({ grantee, purposes });
            expect((await grant('Hospital2MSP', ['research'])).status).toBe(201);
            expect((await grant('Hospital3MSP', ['insurance'])).status).toBe(201);
            const path = `/api/v1/records/${stored.body.recordId}/content`;

            const defaulted = await request(h.apps.h2).get(path).set(auth(clinician2));
            expect(defaulted.status).toBe(403);
            expect(defaulted.body.detail).toContain('no X-Purpose-Of-Use header was sent, so the purpose defaulted to treatment');
            expect(defaulted.body.detail).toContain('Consents granted to Hospital2MSP that cover this record allow: research');
            expect(defaulted.body).toMatchObject({ purpose: 'treatment', purposeHeader: 'X-Purpose-Of-Use', defaultPurpose: 'treatment', allowedPurposes: ['research'] });
            expect(defaulted.body.detail).not.toContain('insurance');
            expect(defaulted.body.detail).not.toContain('Hospital3MSP');

            const stated = await request(h.apps.h2).get(path).set(auth(clinician2)).set('X-Purpose-Of-Use', 'insurance');
            expect(stated.status).toBe(403);
            expect(stated.body.detail).toContain('the X-Purpose-Of-Use header said insurance');
            expect(stated.body.allowedPurposes).toEqual(['research']);
            expect(h.network.events.filter((e) => e.type === 'RecordAccessed')).toHaveLength(0);
        });

        it('verify tells an erased record from a damaged one', async () => {
            const stored = await store(Buffer.from('to be erased'));
            expect((await request(h.apps.h1).delete(`/api/v1/records/${stored.body.recordId}`).set(auth(patient))).status).toBe(200);
            const res = await request(h.apps.h1).get(`/api/v1/records/${stored.body.recordId}/verify`).set(auth(auditor));
            expect(res.status).toBe(200);
            expect(res.body).toMatchObject({ status: 'erased', state: 'erased', intact: false, pinnedOn: [] });
            expect(res.body.detail).toMatch(/not damage/);
        });

        it('every audit entry carries an actor; one the ledger never recorded is named as such', async () => {
            const mine = await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(auditor));
            expect(mine.body[0]).toMatchObject({ type: 'PatientRegistered', actor: 'dr-ana', hospital: 'Hospital1MSP' });
            h.network.events[0].actor = '';
            const legacy = await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(auditor));
            expect(legacy.body[0]).toMatchObject({ type: 'PatientRegistered', actor: 'unrecorded@Hospital1MSP' });
        });
    });

    describe('consents and access requests across hospitals', () => {
        it('another hospital reads only under consent; 503 until its envelope is delivered; revocation ends it', async () => {
            const stored = await store(Buffer.from('lab values'), 'text/plain', 'category=lab');
            const recordId = stored.body.recordId;
            const path = `/api/v1/records/${recordId}/content`;

            expect((await request(h.apps.h2).get(path).set(auth(clinician2))).status).toBe(404);

            const consent = await request(h.apps.h1)
                .post(`/api/v1/patients/${patientId}/consents`)
                .set(auth(patient))
                .send({ grantee: 'Hospital2MSP', scope: { categories: ['lab'] }, purposes: ['treatment'] });
            expect(consent.status).toBe(201);
            expect(consent.body).toMatchObject({ consentId: expect.any(String), status: 'active' });

            const pending = await request(h.apps.h2).get(path).set(auth(clinician2));
            expect(pending.status).toBe(503);
            expect(pending.headers['retry-after']).toBe('3');
            // Nothing was disclosed, so nothing was logged: the envelope is read before the access is committed.
            expect(h.network.events.filter((e) => e.type === 'RecordAccessed')).toHaveLength(0);

            // What the custodian's event follower does: deliver an envelope to the grantee.
            deliverEnvelope(h, recordId, 'Hospital1MSP', 'Hospital2MSP');

            const read = await request(h.apps.h2).get(path).set(auth(clinician2));
            expect(read.status).toBe(200);
            expect(read.text).toBe('lab values');
            expect(h.network.events.filter((e) => e.type === 'RecordAccessed' && e.hospital === 'Hospital2MSP')).toHaveLength(1);
            expect((await request(h.apps.h2).get(path).set(auth(clinician2)).set('X-Purpose-Of-Use', 'research')).status).toBe(403);

            // A record stored while the consent is in force carries the grantee's envelope in its
            // own transaction: readable there at once, with no delivery; one outside the scope does not.
            const later = (await store(Buffer.from('more lab values'), 'text/plain', 'category=lab')).body.recordId;
            const outside = (await store(Buffer.from('an image'), 'text/plain', 'category=imaging')).body.recordId;
            expect(h.network.envelopes.get('Hospital2MSP')?.has(later)).toBe(true);
            expect(h.network.envelopes.get('Hospital2MSP')?.has(outside)).toBe(false);
            const direct = await request(h.apps.h2).get(`/api/v1/records/${later}/content`).set(auth(clinician2));
            expect(direct.status).toBe(200);
            expect(direct.text).toBe('more lab values');

            const list = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/consents`).set(auth(clinician1));
            expect(list.status).toBe(200);
            expect(list.body).toHaveLength(1);
            // Need-to-know: the grantee's clinicians see the consent granted to their hospital, and only that.
            const granteeList = await request(h.apps.h2).get(`/api/v1/patients/${patientId}/consents`).set(auth(clinician2));
            expect(granteeList.status).toBe(200);
            expect(granteeList.body.map((c: { grantee: string }) => c.grantee)).toEqual(['Hospital2MSP']);

            const revoked = await request(h.apps.h1).delete(`/api/v1/consents/${consent.body.consentId}`).set(auth(patient));
            expect(revoked.status).toBe(200);
            expect(revoked.body).toMatchObject({ consentId: consent.body.consentId, status: 'revoked' });
            expect((await request(h.apps.h2).get(path).set(auth(clinician2))).status).toBe(404); // revoked: no basis left, so the record is not there for hospital 2
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
            const res = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(clinician2)).send({ patientId: 'nobody', purpose: 'treatment', reason: 'referral' });
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
            expect(trail.body[1]).toMatchObject({
                hospital: 'Hospital1MSP',
                actor: 'dr-ana',
                actorRole: 'clinician',
                purpose: 'treatment',
                basis: 'custodian',
                txId: expect.any(String),
            });

            const mine = await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(patient));
            expect(mine.status).toBe(200);
            expect(mine.body[0].type).toBe('PatientRegistered');
            expect((await request(h.apps.h1).get(`/api/v1/audit/records/${stored.body.recordId}`).set(auth(clinician1))).status).toBe(403);
            expect((await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(await h.token('p-x', 'patient')))).status).toBe(403);
        });
    });
});

describe('trust boundaries: abuse limits, accountability, tokens, reasons', () => {
    /** Log lines the app wrote, parsed. */
    function capture() {
        const lines: Record<string, unknown>[] = [];
        const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
        return { logger, lines, denials: () => lines.filter((l) => l.msg === 'request denied') };
    }

    it('answers 429 problem+json with Retry-After once an actor exceeds its read budget; other actors and classes go on', async () => {
        const h = await createHarness({ rateLimits: { reads: { max: 3, windowSeconds: 60 } } });
        const ana = auth(await h.token('dr-ana', 'clinician'));
        for (let i = 0; i < 3; i++) expect((await request(h.apps.h1).get('/api/v1/hospitals').set(ana)).status).toBe(200);
        const limited = await request(h.apps.h1).get('/api/v1/hospitals').set(ana);
        expect(limited.status).toBe(429);
        expect(limited.headers['content-type']).toMatch(/^application\/problem\+json/);
        expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
        expect(limited.body).toMatchObject({ status: 429, title: 'Too many requests', limit: 3, windowSeconds: 60 });
        expect(limited.body.detail).toMatch(/^rate limit exceeded: more than 3 reads by this actor in 60 s; retry after \d+ s$/);
        // The key is hospital + sub + role: the same sub with another role, another sub, another hospital each have their own budget.
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.token('dr-ana', 'admin')))).status).toBe(200);
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.token('dr-ben', 'clinician')))).status).toBe(200);
        expect((await request(h.apps.h2).get('/api/v1/hospitals').set(ana)).status).toBe(200);
        // Writes are another class.
        expect((await request(h.apps.h1).post('/api/v1/patients').set(ana).send({ patientId: 'Hospital1MSP:p-limits-1' })).status).toBe(201);
    });

    it('limits writes and uploads per class, and unauthenticated routes per address', async () => {
        const h = await createHarness({ rateLimits: { writes: { max: 1, windowSeconds: 30 }, uploads: { max: 1, windowSeconds: 30 }, public: { max: 2, windowSeconds: 30 } } });
        const ana = auth(await h.token('dr-ana', 'clinician'));
        expect((await request(h.apps.h1).post('/api/v1/patients').set(ana).send({ patientId: 'Hospital1MSP:p-limits-2' })).status).toBe(201);
        const write = await request(h.apps.h1).post('/api/v1/patients').set(ana).send({ patientId: 'Hospital1MSP:p-limits-3' });
        expect(write.status).toBe(429);
        expect(write.body.detail).toContain('more than 1 writes by this actor in 30 s');
        const upload = () => request(h.apps.h1).post('/api/v1/patients/Hospital1MSP:p-limits-2/records?category=lab').set(ana).set('Content-Type', 'text/plain').send('x');
        expect((await upload()).status).toBe(201);
        expect((await upload()).status).toBe(429);
        expect((await request(h.apps.h1).get('/openapi.json')).status).toBe(200);
        expect((await request(h.apps.h1).get('/openapi.json')).status).toBe(200);
        const open = await request(h.apps.h1).get('/health');
        expect(open.status).toBe(429);
        expect(open.body.detail).toContain('public requests from this address');
    });

    it('limits refused tokens per address without holding up valid tokens from it', async () => {
        const h = await createHarness({ rateLimits: { authFailures: { max: 2, windowSeconds: 60 } } });
        const bad = { Authorization: 'Bearer a.b.c' };
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(bad)).status).toBe(401);
        expect((await request(h.apps.h1).get('/api/v1/hospitals')).status).toBe(401);
        const third = await request(h.apps.h1).get('/api/v1/hospitals').set(bad);
        expect(third.status).toBe(429);
        expect(third.headers['retry-after']).toBeDefined();
        expect(third.body.detail).toContain('refused tokens from this address');
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.token('dr-ana', 'clinician')))).status).toBe(200);
    });

    it('logs every denial at info/warn with sub, role, hospital and rule, no PHI, and counts it in /metrics', async () => {
        const log = capture();
        const h = await createHarness({ logger: log.logger, rateLimits: { reads: { max: 4, windowSeconds: 60 } } });
        const patientId = 'Hospital1MSP:p-secret-42';
        const clinician = auth(await h.token('dr-ana', 'clinician'));
        expect((await request(h.apps.h1).post('/api/v1/patients').set(clinician).send({ patientId })).status).toBe(201);
        const auditor = auth(await h.token('aud-1', 'auditor'));
        const patient = auth(await h.token(patientId, 'patient'));
        expect((await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`)).status).toBe(401);
        expect((await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auditor)).status).toBe(403);
        expect((await request(h.apps.h1).get(`/api/v1/records/${randomUUID()}`).set(clinician)).status).toBe(404);
        expect((await request(h.apps.h1).post('/api/v1/patients').set(clinician).set('Content-Type', 'text/plain').send(`{"patientId":"${patientId}"}`)).status).toBe(415);
        expect((await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(patient)).status).toBe(200);
        for (let i = 0; i < 3; i++) await request(h.apps.h1).get('/api/v1/hospitals').set(patient);
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(patient)).status).toBe(429);

        const denials = log.denials();
        expect(denials.map((d) => [d.status, d.rule, d.level])).toEqual([
            [401, 'token.missing', 40],
            [403, 'role', 40],
            [404, 'ledger.not-found', 30],
            [415, 'media-type', 30],
            [429, 'rate-limit.reads', 40],
        ]);
        expect(denials[1]).toMatchObject({ sub: 'aud-1', role: 'auditor', hospital: 'Hospital1MSP', route: '/api/v1/patients/:patientId/records', method: 'GET' });
        expect(denials[0]).toMatchObject({ hospital: 'Hospital1MSP', address: expect.any(String) });
        expect(denials[0].sub).toBeUndefined();
        expect(denials[4]).toMatchObject({ sub: patientId, role: 'patient' }); // a patient's sub is their pseudonym: they are the actor
        for (const d of denials.slice(0, 4)) expect(JSON.stringify(d)).not.toContain(patientId);

        const metrics = await request(h.apps.h1).get('/metrics');
        expect(metrics.text).toContain('ehr_denied_requests_total{rule="token.missing",status="401"} 1');
        expect(metrics.text).toContain('ehr_denied_requests_total{rule="role",status="403"} 1');
        expect(metrics.text).toContain('ehr_denied_requests_total{rule="ledger.not-found",status="404"} 1');
        expect(metrics.text).toContain('ehr_denied_requests_total{rule="media-type",status="415"} 1');
        expect(metrics.text).toContain('ehr_denied_requests_total{rule="rate-limit.reads",status="429"} 1');
    });

    it('refuses a token that lives longer than the maximum, or lacks exp or iat, with 401 and a clear detail', async () => {
        const h = await createHarness();
        const claims = { sub: 'dr-ana', role: 'clinician' };
        const long = await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.sign(claims, { lifetimeSeconds: 24 * 3600 })));
        expect(long.status).toBe(401);
        expect(long.body.detail).toMatch(/^token lifetime too long: exp - iat is 86400 s, and this gateway accepts at most 3600 s/);
        const noIat = await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.sign(claims, { iat: null, exp: Math.floor(Date.now() / 1000) + 60 })));
        expect(noIat.status).toBe(401);
        expect(noIat.body.detail).toMatch(/^token lacks the iat claim/);
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.sign(claims, { exp: null })))).status).toBe(401);
        expect((await request(h.apps.h1).get('/api/v1/hospitals').set(auth(await h.sign(claims, { lifetimeSeconds: 3600 })))).status).toBe(200);
    });

    it('takes an access-request reason only from the vocabulary: free text is 400 and reaches no ledger', async () => {
        const h = await createHarness();
        const clinician = auth(await h.token('dr-ana', 'clinician'));
        expect((await request(h.apps.h1).post('/api/v1/patients').set(clinician).send({ patientId: 'Hospital1MSP:p-reason-1' })).status).toBe(201);
        const calls = h.network.events.length;
        for (const body of [
            { patientId: 'Hospital1MSP:p-reason-1', purpose: 'treatment', reason: 'Oncology referral' },
            { patientId: 'Hospital1MSP:p-reason-1', purpose: 'treatment', reason: 'referral', note: 'suspected relapse' },
        ]) {
            const res = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(await h.token('dr-ben', 'clinician'))).send(body);
            expect(res.status).toBe(400);
        }
        const free = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(await h.token('dr-ben', 'clinician'))).send({ patientId: 'Hospital1MSP:p-reason-1', purpose: 'treatment', reason: 'Oncology referral' });
        expect(free.body.errors).toEqual([{ field: 'body.reason', message: expect.stringContaining('referral') }]);
        expect(h.network.events.length).toBe(calls);
        const ok = await request(h.apps.h2).post('/api/v1/access-requests').set(auth(await h.token('dr-ben', 'clinician'))).send({ patientId: 'Hospital1MSP:p-reason-1', purpose: 'treatment', reason: 'second-opinion' });
        expect(ok.status).toBe(201);
        expect(ok.body.reason).toBe('second-opinion');
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
async function postChunked(
    h: Harness,
    path: string,
    token: string,
    chunks: Buffer[],
    headers: Record<string, string> = { 'Content-Type': 'application/octet-stream' },
): Promise<{ status: number; body: unknown }> {
    const server = h.apps.h1.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    try {
        return await new Promise((resolve, reject) => {
            const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { Authorization: `Bearer ${token}`, ...headers, 'Transfer-Encoding': 'chunked' } }, (res) => {
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
