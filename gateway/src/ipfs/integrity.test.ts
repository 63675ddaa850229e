import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { blobIntegrity } from '../ports.js';
import { createHarness, type Harness } from '../testing/harness.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const binary = (res: NodeJS.ReadableStream, cb: (err: Error | null, body: Buffer) => void) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
};

/** The REST API over a blob store that finds, drops and heals corrupted copies (FakeBlobStore plays ClusterBlobStore). */
describe('integrity that heals (REST)', () => {
    let h: Harness;
    let clinician: string;
    let auditor: string;
    let patientId: string;
    let stopCounting: () => void;

    beforeEach(async () => {
        h = await createHarness({ bodyLimitBytes: 256 * 1024 });
        stopCounting = h.metrics.watchIntegrity(blobIntegrity);
        clinician = await h.token('dr-ana', 'clinician');
        auditor = await h.token('aud-1', 'auditor');
        patientId = `Hospital1MSP:p-${randomBytes(4).toString('hex')}`;
        expect((await request(h.apps.h1).post('/api/v1/patients').set(auth(clinician)).send({ patientId })).status).toBe(201);
    });

    afterEach(() => stopCounting());

    async function store(body: Buffer) {
        const res = await request(h.apps.h1)
            .post(`/api/v1/patients/${patientId}/records?category=imaging&title=MRI`)
            .set(auth(clinician))
            .set('Content-Type', 'application/pdf')
            .send(body);
        expect(res.status).toBe(201);
        return res.body as { recordId: string; cid: string };
    }

    const counter = async (action: string) => {
        const metric = await h.metrics.blobCorruptions.get();
        return metric.values.find((v) => v.labels.action === action)?.value ?? 0;
    };

    it('verify reports a corrupted copy it healed; content is the original bytes; the next verify is intact; the counter goes up', async () => {
        const document = randomBytes(62_000);
        const stored = await store(document);
        h.blobs.corrupt(stored.cid, { replicaIntact: true });

        const first = await request(h.apps.h1).get(`/api/v1/records/${stored.recordId}/verify`).set(auth(auditor));
        expect(first.status).toBe(200);
        expect(first.body).toMatchObject({ state: 'corrupted', intact: false, status: 'active' });
        expect(first.body.detail).toMatch(/replica/);
        expect(await counter('detected')).toBe(1);
        expect(await counter('healed')).toBe(1);

        const content = await request(h.apps.h1).get(`/api/v1/records/${stored.recordId}/content`).set(auth(clinician)).buffer(true).parse(binary as never);
        expect(content.status).toBe(200);
        expect((content.body as Buffer).equals(document)).toBe(true);

        const second = await request(h.apps.h1).get(`/api/v1/records/${stored.recordId}/verify`).set(auth(auditor));
        expect(second.body).toMatchObject({ state: 'intact', intact: true });
        expect(await h.metrics.registry.metrics()).toMatch(/ehr_blob_corruptions_total\{action="detected"\} 1/);
    });

    it('content heals a corrupted copy on read and serves the identical bytes', async () => {
        const document = randomBytes(62_000);
        const stored = await store(document);
        h.blobs.corrupt(stored.cid, { replicaIntact: true });
        const content = await request(h.apps.h1).get(`/api/v1/records/${stored.recordId}/content`).set(auth(clinician)).buffer(true).parse(binary as never);
        expect(content.status).toBe(200);
        expect((content.body as Buffer).equals(document)).toBe(true);
        expect(await counter('healed')).toBe(1);
    });

    it('with no intact copy anywhere: content is a 503 problem before any byte, verify says corrupted', async () => {
        const stored = await store(randomBytes(62_000));
        h.blobs.corrupt(stored.cid, { replicaIntact: false });
        const content = await request(h.apps.h1).get(`/api/v1/records/${stored.recordId}/content`).set(auth(clinician));
        expect(content.status).toBe(503);
        expect(content.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(content.headers['retry-after']).toBeDefined();
        expect(content.body).toMatchObject({ status: 503, dependency: 'ipfs', reason: 'blob-corrupted' });
        expect(await counter('unrecoverable')).toBe(1);

        const verify = await request(h.apps.h1).get(`/api/v1/records/${stored.recordId}/verify`).set(auth(auditor));
        expect(verify.body).toMatchObject({ state: 'corrupted', intact: false });
        expect(verify.body.detail).toMatch(/no replica/);
    });
});
