import { randomUUID } from 'node:crypto';
import type { Bundle, CapabilityStatement, Consent, DocumentReference, FhirResource, OperationOutcome } from 'fhir/r4.js';
import request from 'supertest';
import { unwrapKey, wrapKey } from '../crypto/key-wrap.js';
import { createHarnessWithCast, type Harness } from '../testing/harness.js';
import { validateResource } from './validator.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
const FHIR = '/fhir/R4';
const PID = 'urn:ehr:patient-id';

/** Every resource the endpoint emits must be valid R4 (the official JSON schema). */
function valid<T>(body: unknown): T {
    expect(validateResource(body)).toEqual([]);
    return body as T;
}

function expectOutcome(res: request.Response, status: number): OperationOutcome {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const outcome = valid<OperationOutcome>(JSON.parse(res.text));
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].severity).toMatch(/error|fatal/);
    return outcome;
}

/** supertest parses application/fhir+json as text: the JSON of a FHIR response. */
const json = <T>(res: request.Response): T => JSON.parse(res.text) as T;

function deliverEnvelope(h: Harness, recordId: string, custodian: string, grantee: string): void {
    const own = h.network.envelopes.get(custodian)!.get(recordId)!;
    const dataKey = unwrapKey(own, h.privateKeys.get(custodian)!, { recordId, mspId: custodian });
    const envelope = wrapKey(dataKey, h.network.hospitals.get(grantee)!.publicKey, { recordId, mspId: grantee });
    const held = h.network.envelopes.get(grantee) ?? new Map<string, string>();
    held.set(recordId, envelope);
    h.network.envelopes.set(grantee, held);
}

export function provideBundle(patientId: string, bytes: Buffer, options: { category?: string; contentType?: string; replaces?: string; title?: string } = {}): Bundle {
    const binaryUrl = `urn:uuid:${randomUUID()}`;
    const doc: DocumentReference = {
        resourceType: 'DocumentReference',
        status: 'current',
        category: [{ coding: [{ system: 'urn:ehr:category', code: options.category ?? 'lab' }] }],
        subject: { identifier: { system: PID, value: patientId } },
        ...(options.replaces ? { relatesTo: [{ code: 'replaces', target: { reference: `DocumentReference/${options.replaces}` } }] } : {}),
        content: [{ attachment: { contentType: options.contentType ?? 'text/plain', url: binaryUrl, size: bytes.length, ...(options.title ? { title: options.title } : {}) } }],
    };
    return {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
            {
                fullUrl: `urn:uuid:${randomUUID()}`,
                resource: { resourceType: 'List', status: 'current', mode: 'working', code: { coding: [{ system: 'https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes', code: 'submissionset' }] } },
                request: { method: 'POST', url: 'List' },
            },
            { fullUrl: `urn:uuid:${randomUUID()}`, resource: doc, request: { method: 'POST', url: 'DocumentReference' } },
            { fullUrl: binaryUrl, resource: { resourceType: 'Binary', contentType: options.contentType ?? 'text/plain', data: bytes.toString('base64') }, request: { method: 'POST', url: 'Binary' } },
        ],
    };
}

// The R4 schema compiles once per process (a few seconds).
beforeAll(() => validateResource({ resourceType: 'Bundle', type: 'searchset' }), 60_000);

describe('FHIR R4 endpoint', () => {
    let h: Harness;
    let clinician1: string;
    let clinician2: string;
    let auditor: string;
    let patient: string;
    let patientId: string;

    beforeEach(async () => {
        ({ h, clinician1, clinician2, auditor, patient, patientId } = await createHarnessWithCast({ bodyLimitBytes: 256 * 1024 }));
    });

    const post = (app: Harness['apps']['h1'], path: string, token: string, body: unknown, type = 'application/fhir+json') =>
        request(app).post(FHIR + path).set(auth(token)).set('Content-Type', type).send(JSON.stringify(body));

    async function provide(bytes: Buffer, options: Parameters<typeof provideBundle>[2] = {}) {
        const res = await post(h.apps.h1, '/', clinician1, provideBundle(patientId, bytes, options));
        expect(res.status).toBe(200);
        const bundle = valid<Bundle>(json(res));
        expect(bundle.type).toBe('transaction-response');
        const doc = bundle.entry!.find((e) => e.resource?.resourceType === 'DocumentReference')!.resource as DocumentReference;
        return { res, bundle, doc };
    }

    test('metadata: a valid CapabilityStatement, and every interaction and search parameter it lists is served', async () => {
        const res = await request(h.apps.h1).get(`${FHIR}/metadata`);
        expect(res.status).toBe(200);
        expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
        const cs = valid<CapabilityStatement>(json(res));
        expect(cs.fhirVersion).toBe('4.0.1');
        expect(cs.rest![0].interaction).toEqual([expect.objectContaining({ code: 'transaction' })]);
        const tokens = { clinician: clinician1, patient, auditor };
        const id = randomUUID();
        for (const resource of cs.rest![0].resource!) {
            const roleOf = (code: string) => (new RegExp(`${code}: (\\w+)`).exec(resource.documentation!)![1] as keyof typeof tokens);
            for (const { code } of resource.interaction!) {
                const token = tokens[roleOf(code)];
                let r: request.Response;
                if (code === 'read') r = await request(h.apps.h1).get(`${FHIR}/${resource.type}/${id}`).set(auth(token));
                else if (code === 'search-type') r = await request(h.apps.h1).get(`${FHIR}/${resource.type}?patient.identifier=${encodeURIComponent(`${PID}|${patientId}`)}`).set(auth(token));
                else if (code === 'create') r = await post(h.apps.h1, `/${resource.type}`, token, { resourceType: resource.type });
                else r = await request(h.apps.h1).put(`${FHIR}/${resource.type}/${id}`).set(auth(token)).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: resource.type }));
                // Served: a FHIR answer, never the catch-all "no route".
                expect(r.headers['content-type']).toMatch(/^application\/fhir\+json|^text\/plain/);
                if (r.status === 404) expect(json<OperationOutcome>(r).issue[0].diagnostics).not.toMatch(/no route/);
                expect(r.status).not.toBe(405);
            }
            for (const p of resource.searchParam ?? []) {
                // Strict handling accepts every listed parameter (400s here are about values, never "unknown").
                const value = p.type === 'date' ? 'ge2000-01-01' : p.name === 'entity' ? `DocumentReference/${id}` : p.name === 'category' ? 'lab' : p.name === 'status' ? 'current' : `${PID}|${patientId}`;
                const role = roleOf('search-type');
                const withPatient = p.name.startsWith('patient') || resource.type === 'AuditEvent' ? '' : `&patient.identifier=${encodeURIComponent(`${PID}|${patientId}`)}`;
                const r = await request(h.apps.h1).get(`${FHIR}/${resource.type}?${p.name}=${encodeURIComponent(value)}${withPatient}`).set(auth(tokens[role])).set('Prefer', 'handling=strict');
                // (an unknown record's audit is a 404: the parameter was taken)
                expect([resource.type, p.name, r.status === 200 || r.status === 404]).toEqual([resource.type, p.name, true]);
            }
            for (const op of resource.operation ?? []) {
                const r = await request(h.apps.h1).post(`${FHIR}/${resource.type}/${id}/$${op.name}`).set(auth(patient));
                expectOutcome(r, 404);
            }
        }
    }, 30_000);

    test('the whole story: ITI-65 store, ITI-67 find, Consent, ITI-68 at another hospital, revocation, AuditEvent', async () => {
        const bytes = Buffer.from('potassium 4.1 mmol/L');
        const { res, bundle, doc } = await provide(bytes, { title: 'Lab panel' });
        const recordId = doc.id!;
        expect(res.headers.location).toMatch(new RegExp(`/fhir/R4/DocumentReference/${recordId}$`));
        expect(bundle.entry!.map((e) => e.response!.status)).toEqual(['200 OK', '201 Created', '201 Created']);
        expect(doc.content[0].attachment).toMatchObject({ contentType: 'text/plain', size: bytes.length, hash: expect.any(String), url: expect.stringMatching(new RegExp(`/fhir/R4/Binary/${recordId}$`)) });
        expect(doc.identifier!.map((i) => i.system)).toEqual(expect.arrayContaining(['urn:ehr:fabric-tx-id', 'urn:ehr:ipfs-cid']));
        expect(doc.custodian).toMatchObject({ identifier: { value: 'Hospital1MSP' } });

        // ITI-67 at the custodian.
        const found = await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query({ 'patient.identifier': `${PID}|${patientId}`, category: 'urn:ehr:category|lab', date: 'ge2000-01-01' }).set(auth(clinician1));
        expect(found.status).toBe(200);
        const searchset = valid<Bundle>(json(found));
        expect(searchset).toMatchObject({ type: 'searchset', total: 1 });
        expect((searchset.entry![0].resource as DocumentReference).id).toBe(recordId);
        expect((await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query({ 'patient.identifier': `${PID}|${patientId}`, category: 'imaging' }).set(auth(clinician1))).text).toContain('"total":0');

        // Hospital 2 has no basis yet: an OperationOutcome, same status as REST (404: need-to-know, as the chaincode answers).
        expectOutcome(await request(h.apps.h2).get(`${FHIR}/Binary/${recordId}`).set(auth(clinician2)), 404);

        // Access request through REST, consent through FHIR by the patient at home.
        expect((await request(h.apps.h2).post('/api/v1/access-requests').set(auth(clinician2)).send({ patientId, purpose: 'treatment', reason: 'referral' })).status).toBe(201);
        const consentBody: Consent = {
            resourceType: 'Consent',
            status: 'active',
            scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
            category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
            patient: { identifier: { system: PID, value: patientId } },
            provision: {
                type: 'permit',
                actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: 'urn:ehr:msp-id', value: 'Hospital2MSP' } } }],
                purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
                class: [{ system: 'urn:ehr:category', code: 'lab' }],
            },
        };
        expectOutcome(await post(h.apps.h1, '/Consent', clinician1, consentBody), 403);
        const granted = await post(h.apps.h1, '/Consent', patient, consentBody);
        expect(granted.status).toBe(201);
        const consent = valid<Consent>(json(granted));
        expect(granted.headers.location).toMatch(new RegExp(`/fhir/R4/Consent/${consent.id}$`));
        expect(consent).toMatchObject({ status: 'active', provision: { purpose: [{ code: 'TREAT' }], class: [{ code: 'lab' }] } });

        const listed = valid<Bundle>(json(await request(h.apps.h1).get(`${FHIR}/Consent`).query({ patient: `${PID}|${patientId}` }).set(auth(patient))));
        expect(listed.total).toBe(1);
        valid<Consent>(json(await request(h.apps.h1).get(`${FHIR}/Consent/${consent.id}`).set(auth(patient))));

        deliverEnvelope(h, recordId, 'Hospital1MSP', 'Hospital2MSP');
        const read = await request(h.apps.h2).get(`${FHIR}/Binary/${recordId}`).set(auth(clinician2)).set('X-Purpose-Of-Use', 'TREAT');
        expect(read.status).toBe(200);
        expect(read.headers['content-type']).toMatch(/^text\/plain/);
        expect(read.text).toBe(bytes.toString());
        expect(read.headers['x-access-tx-id']).toEqual(expect.any(String));
        // Purpose as a security label: research is not consented.
        const research = await request(h.apps.h2).get(`${FHIR}/Binary/${recordId}`).query({ _security: 'http://terminology.hl7.org/CodeSystem/v3-ActReason|HRESCH' }).set(auth(clinician2));
        expectOutcome(research, 403);
        expectOutcome(await request(h.apps.h2).get(`${FHIR}/Binary/${recordId}`).set('X-Purpose-Of-Use', 'BOGUS').set(auth(clinician2)), 400);

        // Revocation by PUT status inactive; the grantee's read is denied.
        expectOutcome(await request(h.apps.h1).put(`${FHIR}/Consent/${consent.id}`).set(auth(patient)).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...consent, status: 'active' })), 422);
        const revoked = await request(h.apps.h1).put(`${FHIR}/Consent/${consent.id}`).set(auth(patient)).set('Content-Type', 'application/fhir+json').send(JSON.stringify({ ...consent, status: 'inactive' }));
        expect(revoked.status).toBe(200);
        expect(valid<Consent>(json(revoked)).status).toBe('inactive');
        expectOutcome(await request(h.apps.h2).get(`${FHIR}/Binary/${recordId}`).set(auth(clinician2)), 404);

        // Audit: the read by Hospital2MSP, for the auditor only.
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/AuditEvent`).query({ entity: `DocumentReference/${recordId}` }).set(auth(clinician1)), 403);
        const audit = await request(h.apps.h1).get(`${FHIR}/AuditEvent`).query({ entity: `DocumentReference/${recordId}` }).set(auth(auditor));
        expect(audit.status).toBe(200);
        const events = valid<Bundle>(json(audit));
        const reads = events.entry!.map((e) => e.resource as FhirResource & { resourceType: 'AuditEvent' }).filter((e) => e.action === 'R');
        expect(reads).toHaveLength(1);
        expect(reads[0].agent[1].who).toMatchObject({ identifier: { value: 'Hospital2MSP' } });
        expect(reads[0].purposeOfEvent![0].coding![0].code).toBe('TREAT');
        const byPatient = await request(h.apps.h1).get(`${FHIR}/AuditEvent`).query({ 'patient.identifier': `${PID}|${patientId}` }).set(auth(auditor));
        expect(valid<Bundle>(json(byPatient)).total).toBeGreaterThan(1);
    });

    test('paging with _count and next links; superseded records say replaces; DocumentReference read', async () => {
        const first = (await provide(Buffer.from('v1'))).doc;
        await provide(Buffer.from('other'), { category: 'note' });
        const second = (await provide(Buffer.from('v2'), { replaces: first.id })).doc;
        expect(second.relatesTo).toEqual([{ code: 'replaces', target: { reference: `DocumentReference/${first.id}` } }]);

        const page1 = valid<Bundle>(json(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query({ 'patient.identifier': `${PID}|${patientId}`, _count: '2' }).set(auth(clinician1))));
        expect(page1.total).toBe(3);
        expect(page1.entry).toHaveLength(2);
        const next = page1.link!.find((l) => l.relation === 'next')!.url;
        const page2 = valid<Bundle>(json(await request(h.apps.h1).get(new URL(next).pathname + new URL(next).search).set(auth(clinician1))));
        expect(page2.entry).toHaveLength(1);
        expect(page2.link!.find((l) => l.relation === 'next')).toBeUndefined();

        const old = valid<DocumentReference>(json(await request(h.apps.h1).get(`${FHIR}/DocumentReference/${first.id}`).set(auth(clinician1))));
        expect(old.status).toBe('superseded');
        const current = valid<Bundle>(json(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query({ patient: `${PID}|${patientId}`, status: 'current' }).set(auth(patient))));
        expect(current.total).toBe(2);
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/DocumentReference/not-a-uuid`).set(auth(clinician1)), 404);
    });

    /** Every page of a search, by following Bundle.link next from the first, as a FHIR client does. */
    async function everyPage(app: Harness['apps']['h1'], token: string, path: string, query: Record<string, string>, between?: () => Promise<void>) {
        const pages: Bundle[] = [];
        let res = await request(app).get(`${FHIR}${path}`).query(query).set(auth(token));
        for (;;) {
            expect(res.status).toBe(200);
            const page = valid<Bundle>(json(res));
            pages.push(page);
            const self = page.link!.find((l) => l.relation === 'self')!;
            expect(new URL(self.url).pathname).toBe(`${FHIR}${path}`);
            const next = page.link!.find((l) => l.relation === 'next');
            if (!next) return pages;
            expect(new URL(next.url).searchParams.get('_cursor')).toEqual(expect.any(String));
            await between?.();
            res = await request(app).get(new URL(next.url).pathname + new URL(next.url).search).set(auth(token));
        }
    }
    const idsOf = (pages: Bundle[]) => pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource!.id!));

    test('searches page by _cursor: every match once by following next, also while documents are added', async () => {
        const stored: string[] = [];
        for (let i = 0; i < 5; i++) stored.push((await provide(Buffer.from(`doc ${i}`))).doc.id!);
        const q = { 'patient.identifier': `${PID}|${patientId}` };
        const whole = valid<Bundle>(json(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query(q).set(auth(clinician1))));
        expect(whole.entry).toHaveLength(5);
        expect(whole.link!.map((l) => l.relation)).toEqual(['self']);

        const pages = await everyPage(h.apps.h1, clinician1, '/DocumentReference', { ...q, _count: '2' });
        expect(pages.map((p) => p.entry!.length)).toEqual([2, 2, 1]);
        expect(idsOf(pages)).toEqual(idsOf([whole]));
        expect(new Set(idsOf(pages))).toEqual(new Set(stored));
        expect(pages.map((p) => p.total)).toEqual([5, 5, 5]);

        // Newest first: a document stored between pages belongs before the cursor, so what
        // follows neither repeats an entry nor loses one (offsets would shift by one).
        const added: string[] = [];
        const paged = await everyPage(h.apps.h1, clinician1, '/DocumentReference', { ...q, _count: '2' }, async () => {
            added.push((await provide(Buffer.from(`added ${added.length}`))).doc.id!);
        });
        expect(idsOf(paged)).toEqual(idsOf([whole]));
        expect(paged.map((p) => p.total)).toEqual([5, 6, 7]);
    });

    test('Consent and AuditEvent searches page the same way, in the order of the whole search', async () => {
        for (const purposes of [['treatment'], ['research'], ['treatment', 'research']]) {
            const res = await request(h.apps.h1).post(`/api/v1/patients/${patientId}/consents`).set(auth(patient)).send({ grantee: 'Hospital2MSP', purposes });
            expect(res.status).toBe(201);
        }
        await provide(Buffer.from('one more event'));
        const q = { 'patient.identifier': `${PID}|${patientId}` };
        const consents = valid<Bundle>(json(await request(h.apps.h1).get(`${FHIR}/Consent`).query(q).set(auth(patient))));
        expect(consents.entry).toHaveLength(3);
        const consentPages = await everyPage(h.apps.h1, patient, '/Consent', { ...q, _count: '1' });
        expect(consentPages).toHaveLength(3);
        expect(idsOf(consentPages)).toEqual(idsOf([consents]));

        const trail = valid<Bundle>(json(await request(h.apps.h1).get(`${FHIR}/AuditEvent`).query({ ...q, _count: '200' }).set(auth(auditor))));
        expect(trail.entry!.length).toBeGreaterThan(4);
        const trailPages = await everyPage(h.apps.h1, auditor, '/AuditEvent', { ...q, _count: '2' });
        expect(trailPages.length).toBe(Math.ceil(trail.entry!.length / 2));
        expect(idsOf(trailPages)).toEqual(idsOf([trail]));
    });

    test('paging refusals are OperationOutcomes: _count outside the REST bounds, a foreign or forged _cursor, offsets', async () => {
        await provide(Buffer.from('a'));
        await provide(Buffer.from('b'));
        const q = { 'patient.identifier': `${PID}|${patientId}` };
        const search = (path: string, query: Record<string, string>) => request(h.apps.h1).get(`${FHIR}${path}`).query(query).set(auth(clinician1));
        expect((await search('/DocumentReference', { ...q, _count: '200' })).status).toBe(200);
        for (const count of ['0', '201', 'ten', '-3']) {
            const outcome = expectOutcome(await search('/DocumentReference', { ...q, _count: count }), 400);
            expect(JSON.stringify(outcome)).toContain('_count');
        }
        const first = valid<Bundle>(json(await search('/DocumentReference', { ...q, _count: '1' })));
        const cursor = new URL(first.link!.find((l) => l.relation === 'next')!.url).searchParams.get('_cursor')!;
        expect((await search('/DocumentReference', { ...q, _count: '5', _cursor: cursor })).status).toBe(200);
        expectOutcome(await search('/DocumentReference', { ...q, category: 'lab', _cursor: cursor }), 400);
        expectOutcome(await search('/Consent', { ...q, _cursor: cursor }), 400);
        expectOutcome(await search('/DocumentReference', { ...q, _cursor: 'forged' }), 400);
        expectOutcome(await search('/DocumentReference', { ...q, _getpagesoffset: '1' }), 400);
        const cs = valid<CapabilityStatement>(json(await request(h.apps.h1).get(`${FHIR}/metadata`)));
        expect(cs.rest![0].documentation).toMatch(/_cursor.*_count default 50, at most 200/);
    });

    test('unknown search parameters: ignored by default, 400 under Prefer: handling=strict', async () => {
        const q = { 'patient.identifier': `${PID}|${patientId}`, bogus: '1' };
        const lenient = await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query(q).set(auth(clinician1));
        expect(lenient.status).toBe(200);
        expect(json<Bundle>(lenient).link![0].url).not.toContain('bogus');
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query(q).set(auth(clinician1)).set('Prefer', 'handling=strict'), 400);
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query({ 'patient.identifier': `other|${patientId}` }).set(auth(clinician1)), 400);
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).set(auth(clinician1)), 400);
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query({ ...q, _format: 'xml' }).set(auth(clinician1)), 406);
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/DocumentReference`).query(q), 401);
        expectOutcome(await request(h.apps.h1).get(`${FHIR}/Nothing`).set(auth(clinician1)), 404);
    });

    test('bad FHIR input is a 4xx OperationOutcome and writes nothing', async () => {
        const blobsBefore = h.blobs.blobs.size;
        const recordsBefore = h.network.records.size;
        const good = provideBundle(patientId, Buffer.from('x'));
        const docEntry = good.entry![1];
        const doc = docEntry.resource as DocumentReference;
        const cases: [string, unknown, number, string?][] = [
            ['wrong resourceType', { ...good, resourceType: 'Patient' }, 400],
            ['not a transaction', { ...good, type: 'batch' }, 400],
            ['invalid Bundle', { ...good, entry: 'nope' }, 400],
            ['invalid DocumentReference', { ...good, entry: [good.entry![0], { ...docEntry, resource: { ...doc, status: 'bogus' } }, good.entry![2]] }, 400],
            ['missing subject', { ...good, entry: [good.entry![0], { ...docEntry, resource: { ...doc, subject: undefined } }, good.entry![2]] }, 400],
            ['subject as Patient id', { ...good, entry: [good.entry![0], { ...docEntry, resource: { ...doc, subject: { reference: 'Patient/p1' } } }, good.entry![2]] }, 400],
            ['unknown category', { ...good, entry: [good.entry![0], { ...docEntry, resource: { ...doc, category: [{ coding: [{ system: 'urn:ehr:category', code: 'gossip' }] }] } }, good.entry![2]] }, 400],
            ['wrong hash', { ...good, entry: [good.entry![0], { ...docEntry, resource: { ...doc, content: [{ attachment: { ...doc.content[0].attachment, hash: 'AAAA' } }] } }, good.entry![2]] }, 400],
            ['no document', { ...good, entry: [good.entry![0], docEntry] }, 400],
            ['unknown patient', provideBundle('Hospital1MSP:nobody-here', Buffer.from('x')), 404],
            ['malformed JSON', '{"resourceType":', 400],
            ['XML', '<Bundle/>', 415, 'application/fhir+xml'],
            ['form', 'a=b', 415, 'application/x-www-form-urlencoded'],
        ];
        for (const [what, body, status, type] of cases) {
            const res = await request(h.apps.h1)
                .post(`${FHIR}/`)
                .set(auth(clinician1))
                .set('Content-Type', type ?? 'application/fhir+json')
                .send(typeof body === 'string' ? body : JSON.stringify(body));
            expect([what, res.status]).toEqual([what, status]);
            expectOutcome(res, status);
        }
        const noType = provideBundle(patientId, Buffer.from('x'));
        delete (noType.entry![1].resource as DocumentReference).content[0].attachment.contentType;
        delete (noType.entry![2].resource as { contentType?: string }).contentType;
        expectOutcome(await post(h.apps.h1, '/', clinician1, noType), 400);
        expectOutcome(await post(h.apps.h1, '/', patient, good), 403);
        expect(h.blobs.blobs.size).toBe(blobsBefore);
        expect(h.network.records.size).toBe(recordsBefore);

        // Larger than the document limit (256 KiB here): 413, before anything is stored.
        expectOutcome(await post(h.apps.h1, '/', clinician1, provideBundle(patientId, Buffer.alloc(300 * 1024, 1))), 413);
        expect(h.blobs.blobs.size).toBe(blobsBefore);

        const consent = (provision: Record<string, unknown>) => ({
            resourceType: 'Consent',
            status: 'active',
            scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
            category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
            patient: { identifier: { system: PID, value: patientId } },
            provision: { type: 'permit', actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: 'urn:ehr:msp-id', value: 'Hospital2MSP' } } }], purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }], ...provision },
        });
        expectOutcome(await post(h.apps.h1, '/Consent', patient, consent({ class: [{ system: 'urn:ehr:category', code: 'lab' }], data: [{ meaning: 'instance', reference: { reference: `DocumentReference/${randomUUID()}` } }] })), 400);
        expectOutcome(await post(h.apps.h1, '/Consent', patient, consent({ period: { end: '2001-01-01T00:00:00Z' } })), 400);
        const labelled = await post(h.apps.h1, '/Consent', patient, consent({ securityLabel: [{ system: 'urn:ehr:category', code: 'imaging' }], period: { end: '2099-01-01T00:00:00Z' } }));
        expect(labelled.status).toBe(201);
        expect(valid<Consent>(json(labelled)).provision).toMatchObject({ class: [{ code: 'imaging' }], period: { end: '2099-01-01T00:00:00.000Z' } });
        expectOutcome(await post(h.apps.h1, '/Consent', patient, consent({ purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'NOPE' }] })), 400);
        expectOutcome(await post(h.apps.h1, '/Consent', await h.token('Hospital1MSP:someone-else', 'patient'), consent({})), 403);
        expectOutcome(await request(h.apps.h1).post(`${FHIR}/Consent/${randomUUID()}/$revoke`).set(auth(clinician1)), 403);
        const consentsBefore = h.network.consents.size; // (one granted just above)
        expectOutcome(await post(h.apps.h1, '/Consent', patient, { resourceType: 'Consent', status: 'active' }), 400);
        expectOutcome(await post(h.apps.h1, '/Consent', patient, { resourceType: 'DocumentReference', status: 'current', content: [] }), 400);
        expectOutcome(await post(h.apps.h1, '/Consent', patient, { nope: true }, 'text/plain'), 415);
        expect(h.network.consents.size).toBe(consentsBefore);

        // Denials are logged and counted as REST's are.
        const metrics = await request(h.apps.h1).get('/metrics');
        expect(metrics.text).toMatch(/ehr_denied_requests_total\{rule="role",status="403"\} [1-9]/);
    });
});
