/* eslint-disable @typescript-eslint/no-explicit-any -- FHIR resources from the wire; the tests narrow them with expectations */
import { Client } from 'fhir-kit-client';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { validateResource } from '../../gateway/src/fhir/validator.js';
import { Rest, expectStatus, token, type Reply } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// The whole story through FHIR R4 only (DESIGN §9), with a FHIR client library (fhir-kit-client)
// against the real network: ITI-65 store at hospital 1, ITI-67 find, an access request,
// the patient's Consent, ITI-68 retrieval of identical bytes at hospital 2, revocation, a
// denied read as an OperationOutcome, and the AuditEvents listing the read. Only patient
// registration goes through REST (FHIR Patient is not served: patient IDs are identifiers).
// Every resource received is checked against the R4 JSON schema.

const PID = 'urn:ehr:patient-id';

function valid(resource: any): any {
  expect(validateResource(resource)).toEqual([]);
  return resource;
}

/** The OperationOutcome and status of a failed fhir-kit-client call. */
async function failure(call: Promise<unknown>): Promise<{ status: number; outcome: any }> {
  const err: any = await call.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: unknown) => e,
  );
  const data = typeof err.response?.data === 'string' ? JSON.parse(err.response.data) : err.response?.data;
  expect(data?.resourceType).toBe('OperationOutcome');
  valid(data);
  return { status: err.response.status, outcome: data };
}

describe('FHIR R4: documents, consent and audit', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patientId = `Hospital1MSP:e2e-fhir-${run}`;
  const document = randomBytes(62_300);
  const clients: Record<string, Client> = {};
  let recordId = '';
  let consentId = '';

  const client = async (n: number, sub: string, role: 'clinician' | 'patient' | 'auditor') => {
    const key = `${n}|${sub}|${role}`;
    clients[key] ??= new Client({ baseUrl: `${rest.url(n)}/fhir/R4`, bearerToken: await token(n, sub, role) });
    return clients[key];
  };
  const clinician = (n: number) => client(n, `dr-e2e-fhir-h${n}`, 'clinician');
  const patient = () => client(1, patientId, 'patient');
  const auditor = () => client(1, `aud-e2e-fhir`, 'auditor');

  /** ITI-68 (raw bytes, streamed): outside the client library, which would parse them. */
  async function retrieve(n: number, headers: Record<string, string> = {}): Promise<Reply> {
    return rest.call(n, 'GET', `/fhir/R4/Binary/${recordId}`, { token: await token(n, `dr-e2e-fhir-h${n}`, 'clinician'), headers });
  }

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await token(1, 'dr-e2e-fhir-h1', 'clinician'), json: { patientId } }), 201);
  });

  test('metadata: a CapabilityStatement for FHIR 4.0.1', async () => {
    const cs: any = valid(await (await clinician(1)).capabilityStatement());
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.rest[0].resource.map((r: any) => r.type).sort()).toEqual(['AuditEvent', 'Binary', 'Consent', 'DocumentReference', 'Observation']);
  });

  test('ITI-65 stores a document at hospital 1', async () => {
    const binaryUrl = `urn:uuid:${randomUUID()}`;
    const hash = createHash('sha1').update(document).digest('base64');
    const response: any = await (await clinician(1)).transaction({
      body: {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          {
            fullUrl: `urn:uuid:${randomUUID()}`,
            resource: {
              resourceType: 'DocumentReference',
              status: 'current',
              category: [{ coding: [{ system: 'urn:ehr:category', code: 'imaging' }] }],
              subject: { identifier: { system: PID, value: patientId } },
              content: [{ attachment: { contentType: 'application/pdf', url: binaryUrl, size: document.length, hash, title: 'MRI report' } }],
            },
            request: { method: 'POST', url: 'DocumentReference' },
          },
          { fullUrl: binaryUrl, resource: { resourceType: 'Binary', contentType: 'application/pdf', data: document.toString('base64') }, request: { method: 'POST', url: 'Binary' } },
        ],
      },
    });
    valid(response);
    expect(response.type).toBe('transaction-response');
    expect(response.entry.map((e: any) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const doc = response.entry[0].resource;
    recordId = doc.id;
    expect(doc.content[0].attachment).toMatchObject({ contentType: 'application/pdf', size: document.length, hash });
    expect(doc.identifier.map((i: any) => i.system)).toEqual(expect.arrayContaining(['urn:ehr:fabric-tx-id', 'urn:ehr:ipfs-cid']));
  });

  test('bad input writes nothing: an OperationOutcome 4xx', async () => {
    const c = await clinician(1);
    const noSubject = await failure(
      c.transaction({
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ resource: { resourceType: 'DocumentReference', status: 'current', category: [{ coding: [{ system: 'urn:ehr:category', code: 'lab' }] }], content: [{ attachment: { contentType: 'text/plain', data: 'eA==' } }] }, request: { method: 'POST', url: 'DocumentReference' } }],
        },
      }),
    );
    expect(noSubject.status).toBe(400);
    expect((await failure(c.transaction({ body: { resourceType: 'Patient' } }))).status).toBe(400);
    const xml = await rest.call(1, 'POST', '/fhir/R4/', { token: await token(1, 'dr-e2e-fhir-h1', 'clinician'), body: '<Bundle/>', headers: { 'content-type': 'application/fhir+xml' } });
    expect(xml.status).toBe(415);
    expect(valid(xml.body).resourceType).toBe('OperationOutcome');
    const found: any = await c.search({ resourceType: 'DocumentReference', searchParams: { 'patient.identifier': `${PID}|${patientId}` } });
    expect(found.total).toBe(1);
  });

  test('ITI-67 finds it, paged, by patient identifier, category and date', async () => {
    const c = await clinician(1);
    const bundle: any = valid(await c.search({ resourceType: 'DocumentReference', searchParams: { 'patient.identifier': `${PID}|${patientId}`, category: 'urn:ehr:category|imaging', date: 'ge2020-01-01', _count: 1 } }));
    expect(bundle).toMatchObject({ type: 'searchset', total: 1 });
    expect(bundle.link.find((l: any) => l.relation === 'self')).toBeDefined();
    expect(bundle.entry[0].resource.id).toBe(recordId);
    const read: any = valid(await c.read({ resourceType: 'DocumentReference', id: recordId }));
    expect(read).toMatchObject({ status: 'current', custodian: { identifier: { value: 'Hospital1MSP' } } });
    // Hospital 2 has no basis: it does not see the document, nor learn that it exists.
    expect((await retrieve(2)).status).toBe(404);
  });

  test('access request, then the patient grants Consent through FHIR; ITI-68 at hospital 2 returns identical bytes', async () => {
    expectStatus(await rest.call(2, 'POST', '/api/v1/access-requests', { token: await token(2, 'dr-e2e-fhir-h2', 'clinician'), json: { patientId, purpose: 'treatment', reason: 'referral' } }), 201);
    const consent = {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { identifier: { system: PID, value: patientId } },
      provision: {
        type: 'permit',
        actor: [{ role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP' }] }, reference: { identifier: { system: 'urn:ehr:msp-id', value: 'Hospital2MSP' } } }],
        purpose: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }],
        data: [{ meaning: 'instance', reference: { reference: `DocumentReference/${recordId}` } }],
      },
    };
    expect((await failure((await clinician(1)).create({ resourceType: 'Consent', body: consent }))).status).toBe(403);
    const created: any = valid(await (await patient()).create({ resourceType: 'Consent', body: consent }));
    consentId = created.id;
    expect(created).toMatchObject({ status: 'active', provision: { data: [{ reference: { reference: `DocumentReference/${recordId}` } }] } });
    const listed: any = valid(await (await patient()).search({ resourceType: 'Consent', searchParams: { 'patient.identifier': `${PID}|${patientId}` } }));
    expect(listed.entry.map((e: any) => e.resource.id)).toContain(consentId);

    const read = await eventually(
      'hospital 2 to retrieve the document',
      async () => {
        const r = await retrieve(2, { 'X-Purpose-Of-Use': 'TREAT' });
        return r.status === 503 ? undefined : r;
      },
      90_000,
      1_000,
    );
    expect(read.status).toBe(200);
    expect(read.contentType).toMatch(/^application\/pdf/);
    expect(Buffer.compare(read.bytes, document)).toBe(0);
    const research = await retrieve(2, { 'X-Purpose-Of-Use': 'HRESCH' });
    expect(research.status).toBe(403);
    expect(valid(research.body).resourceType).toBe('OperationOutcome');
  });

  test('the patient revokes the Consent; the read is denied with an OperationOutcome', async () => {
    const revoked: any = valid(await (await patient()).operation({ name: 'revoke', resourceType: 'Consent', id: consentId, method: 'POST' }));
    expect(revoked.status).toBe('inactive');
    const denied = await retrieve(2);
    expect([403, 404]).toContain(denied.status);
    expect(denied.contentType).toMatch(/^application\/fhir\+json/);
    expect(valid(denied.body).issue[0]).toMatchObject({ severity: 'error' });
  });

  test('a patient with more documents than one page gets every one by following next, none twice', async () => {
    const many = `Hospital1MSP:e2e-fhir-pages-${run}`;
    const drToken = await token(1, 'dr-e2e-fhir-h1', 'clinician');
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: drToken, json: { patientId: many } }), 201);
    const stored: string[] = [];
    for (let i = 0; i < 5; i++) {
      const reply = expectStatus(
        await rest.call(1, 'POST', `/api/v1/patients/${many}/records?category=note`, { token: drToken, body: randomBytes(512), headers: { 'content-type': 'application/octet-stream' } }),
        201,
      ) as { recordId: string };
      stored.push(reply.recordId);
    }
    const c = await clinician(1);
    const seen: string[] = [];
    const sizes: number[] = [];
    let bundle: any = await c.search({ resourceType: 'DocumentReference', searchParams: { 'patient.identifier': `${PID}|${many}`, _count: 2 } });
    while (bundle) {
      valid(bundle);
      expect(bundle.total).toBe(stored.length);
      sizes.push(bundle.entry.length);
      seen.push(...bundle.entry.map((e: any) => e.resource.id));
      bundle = await c.nextPage({ bundle });
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...stored].sort());
  });

  test('AuditEvents list the read by hospital 2, for auditors only', async () => {
    expect((await failure((await clinician(1)).search({ resourceType: 'AuditEvent', searchParams: { entity: `DocumentReference/${recordId}` } }))).status).toBe(403);
    const bundle: any = valid(await (await auditor()).search({ resourceType: 'AuditEvent', searchParams: { entity: `DocumentReference/${recordId}`, _count: 100 } }));
    const reads = bundle.entry.map((e: any) => e.resource).filter((e: any) => e.action === 'R');
    expect(reads.length).toBeGreaterThanOrEqual(1);
    const byH2 = reads.find((e: any) => e.agent[1].who.identifier.value === 'Hospital2MSP');
    expect(byH2).toBeDefined();
    expect(byH2.purposeOfEvent[0].coding[0].code).toBe('TREAT');
    expect(byH2.outcome).toBe('0');
    expect(byH2.entity.find((x: any) => x.what.identifier?.system === 'urn:ehr:fabric-tx-id').detail[0]).toMatchObject({ type: 'txId' });
  });
});
