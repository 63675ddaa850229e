import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Response } from 'express';
import request from 'supertest';
import { createHarnessWithCast, type Harness } from '../testing/harness.js';
import { LiveSession } from './live-session.js';
import { DEFAULT_VITALS_OPTIONS } from './vitals-service.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const NDJSON = 'application/x-ndjson';
const sample = (ms: number, value = 70) => ({ t: new Date(Date.UTC(2026, 0, 1) + ms).toISOString(), code: 'heart-rate', value, unit: '/min' });
const ndjson = (samples: unknown[]) => samples.map((s) => JSON.stringify(s)).join('\n');

describe('vital signs (REST)', () => {
    let h: Harness;
    let clinician1: string;
    let patientId: string;
    let patient: string;

    beforeEach(async () => {
        ({ h, clinician1, patientId, patient } = await createHarnessWithCast({
            vitals: { ...DEFAULT_VITALS_OPTIONS, windowMs: 10_000, maxSamples: 1_000, maxBytes: 128 * 1024, live: { ...DEFAULT_VITALS_OPTIONS.live, recheckMs: 100 } },
        }));
    });

    const post = (body: string, type = NDJSON) => request(h.apps.h1).post(`/api/v1/patients/${patientId}/vitals`).set(auth(clinician1)).set('Content-Type', type).send(body);

    it('stores one encrypted vitals record per window, listed with the records and readable as NDJSON', async () => {
        const samples = Array.from({ length: 300 }, (_, i) => sample(i * 100));
        const res = await post(ndjson(samples));
        expect(res.status).toBe(201);
        expect(res.body.samples).toBe(300);
        expect(res.body.chunks.map((c: { samples: number }) => c.samples)).toEqual([100, 100, 100]);
        const listed = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auth(patient));
        expect(listed.body.filter((r: { category: string }) => r.category === 'vitals')).toHaveLength(3);
        const content = await request(h.apps.h1).get(`/api/v1/records/${res.body.chunks[1].recordId}/content`).set(auth(clinician1)).buffer(true).parse((r, cb) => {
            let text = '';
            r.on('data', (d: Buffer) => (text += d.toString()));
            r.on('end', () => cb(null, text));
        });
        expect(content.status).toBe(200);
        expect(content.headers['content-type']).toMatch(/^application\/x-ndjson/);
        expect((content.body as string).trim().split('\n').map((l) => JSON.parse(l))).toEqual(samples.slice(100, 200));
    });

    it.each([
        ['a malformed line', () => ndjson([sample(0)]) + '\n{x', NDJSON, 400],
        ['out-of-order timestamps', () => ndjson([sample(10), sample(0)]), NDJSON, 400],
        ['too many samples', () => ndjson(Array.from({ length: 1_001 }, (_, i) => sample(i))), NDJSON, 413],
        ['too many bytes', () => ' '.repeat(128 * 1024 + 1), NDJSON, 413],
        ['another content type', () => ndjson([sample(0)]), 'application/json', 415],
    ])('refuses %s as problem+json and writes nothing', async (_what, body, type, status) => {
        const blobs = h.blobs.blobs.size;
        const res = await post(body(), type);
        expect(res.status).toBe(status);
        expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
        expect(h.blobs.blobs.size).toBe(blobs);
        const listed = await request(h.apps.h1).get(`/api/v1/patients/${patientId}/records`).set(auth(patient));
        expect(listed.body).toEqual([]);
    });

    it('is for clinicians only', async () => {
        const res = await request(h.apps.h1).post(`/api/v1/patients/${patientId}/vitals`).set(auth(patient)).set('Content-Type', NDJSON).send(ndjson([sample(0)]));
        expect(res.status).toBe(403);
    });

    describe('live view', () => {
        let server: Server;
        let base: string;

        beforeEach(async () => {
            server = h.apps.h1.listen(0);
            await new Promise((r) => server.once('listening', r));
            base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        afterEach(async () => {
            server.closeAllConnections();
            await new Promise((r) => server.close(r));
        });

        it('is 404 while the patient has no vitals chunk the hospital may see', async () => {
            const res = await fetch(`${base}/api/v1/patients/${patientId}/vitals/live`, { headers: auth(clinician1) });
            expect(res.status).toBe(404);
            expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
        });

        it('logs one access before it opens, then streams samples posted here at once', async () => {
            expect((await post(ndjson([sample(0)]))).status).toBe(201);
            const controller = new AbortController();
            const res = await fetch(`${base}/api/v1/patients/${patientId}/vitals/live`, { headers: auth(clinician1), signal: controller.signal });
            expect(res.status).toBe(200);
            expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
            const reader = res.body!.getReader();
            let text = '';
            const until = async (pattern: RegExp) => {
                while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
            };
            await until(/event: open\ndata: .*\n\n/);
            const open = JSON.parse(/event: open\ndata: (.*)\n/.exec(text)![1]);
            expect(open).toMatchObject({ patientId, purpose: 'treatment', basis: 'custodian' });
            const audit = await request(h.apps.h1).get(`/api/v1/audit/patients/${patientId}`).set(auth(patient));
            expect(audit.body.filter((e: { type: string }) => e.type === 'RecordAccessed').map((e: { txId: string }) => e.txId)).toEqual([open.accessTxId]);

            expect((await post(ndjson([sample(5_000, 81), sample(5_100, 82)]))).status).toBe(201);
            await until(/event: samples\ndata: .*\n\n/);
            expect(JSON.parse(/event: samples\ndata: (.*)\n/.exec(text)![1]).samples.map((s: { value: number }) => s.value)).toEqual([81, 82]);
            controller.abort();
        });

        it("ends another hospital's view when the chaincode no longer allows it (revoked or lapsed consent: the periodic re-check)", async () => {
            expect((await post(ndjson([sample(0)]))).status).toBe(201);
            const granted = await request(h.apps.h1).post(`/api/v1/patients/${patientId}/consents`).set(auth(patient)).send({ grantee: 'Hospital2MSP', purposes: ['treatment'], scope: { categories: ['vitals'] } });
            expect(granted.status).toBe(201);
            // Hospital 2's gateway, with the re-check every 100 ms (no event follower in the harness).
            const server2 = h.apps.h2.listen(0);
            await new Promise((r) => server2.once('listening', r));
            try {
                const clinician = await h.token('dr-h2', 'clinician');
                const res = await fetch(`http://127.0.0.1:${(server2.address() as AddressInfo).port}/api/v1/patients/${patientId}/vitals/live`, { headers: auth(clinician) });
                expect(res.status).toBe(200);
                let text = '';
                const reading = (async () => {
                    for await (const part of res.body!) text += new TextDecoder().decode(part);
                })();
                const revoked = await request(h.apps.h1).delete(`/api/v1/consents/${granted.body.consentId}`).set(auth(patient));
                expect(revoked.status).toBe(200);
                await reading; // the stream ends
                expect(text).toMatch(new RegExp(`event: open\ndata: .*"basis":"${granted.body.consentId}"`));
                expect(text).toMatch(/event: end\ndata: {"reason":"access-ended"}\n\n$/);
            } finally {
                server2.closeAllConnections();
                await new Promise((r) => server2.close(r));
            }
        });
    });
});

/** Just enough of an Express response for a live session: writes that may report a full socket. */
class FakeResponse extends EventEmitter {
    written: string[] = [];
    full = false;
    writableEnded = false;
    destroyed = false;
    socket: { destroyed: boolean } | null = { destroyed: false };
    status() {
        return this;
    }
    setHeader() {
        return this;
    }
    flushHeaders() {}
    write(chunk: string) {
        this.written.push(chunk);
        return !this.full;
    }
    end() {
        this.writableEnded = true;
        this.emit('close');
    }
}

describe('live session', () => {
    const watch = { patientId: 'H:p', actor: { id: 'dr', role: 'clinician' as const }, purpose: 'treatment' as const, basis: 'home', anchorRecordId: 'r' };
    const options = { maxBufferedSamples: 3, heartbeatMs: 60_000, maxSessionMs: 60_000 };
    const s = (v: number) => ({ t: '2026-01-01T00:00:00Z', code: 'heart-rate' as const, value: v, unit: '/min' });

    it('queues while the socket is full and sends the queue on drain', () => {
        const res = new FakeResponse();
        const released: LiveSession[] = [];
        const session = new LiveSession(watch, res as unknown as Response, options, (x) => released.push(x));
        session.start({});
        res.full = true;
        session.push([s(1)]);
        session.push([s(2), s(3)]);
        expect(res.written.filter((w) => w.startsWith('event: samples'))).toHaveLength(1);
        res.full = false;
        res.emit('drain');
        expect(res.written.filter((w) => w.startsWith('event: samples')).at(-1)).toContain('"value":3');
        expect(session.closed).toBe(false);
        session.end('shutdown');
        expect(released).toEqual([session]);
    });

    it('drops a client that falls too far behind, with an end event, rather than buffer without limit', () => {
        const res = new FakeResponse();
        const session = new LiveSession(watch, res as unknown as Response, options, () => undefined);
        session.start({});
        res.full = true;
        session.push([s(1)]);
        session.push([s(2), s(3), s(4), s(5)]);
        expect(session.closed).toBe(true);
        expect(res.written.at(-1)).toBe('event: end\ndata: {"reason":"overflow"}\n\n');
        expect(res.writableEnded).toBe(true);
    });

    it('is released at once when the client went away while its access was being logged', () => {
        const res = new FakeResponse();
        res.socket = null;
        const released: LiveSession[] = [];
        const session = new LiveSession(watch, res as unknown as Response, options, (x) => released.push(x));
        session.start({});
        expect(session.closed).toBe(true);
        expect(released).toEqual([session]);
    });

    it('is released when the client goes away', () => {
        const res = new FakeResponse();
        const released: LiveSession[] = [];
        const session = new LiveSession(watch, res as unknown as Response, options, (x) => released.push(x));
        session.start({});
        res.emit('close');
        expect(session.closed).toBe(true);
        expect(released).toEqual([session]);
        session.push([s(1)]);
        expect(res.written.filter((w) => w.startsWith('event: samples'))).toHaveLength(0);
    });
});
