import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Rest, expectProblem, expectStatus, token, type Reply } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// The whole story of one document through the REST gateways of three hospitals
// (DESIGN §7): register, store, ask, approve, read elsewhere, revoke, audit,
// verify, erase. Steps run in order and share the IDs of this run.

const DOC_BYTES = 62_300; // the seed's MRI report, 62.3 KB

/** The paths of DESIGN §7, as OpenAPI templates, with their methods. */
const CONTRACT_PATHS: Record<string, string[]> = {
  '/health': ['get'],
  '/openapi.json': ['get'],
  '/metrics': ['get'],
  '/api/v1/hospitals': ['get'],
  '/api/v1/patients': ['post'],
  '/api/v1/patients/{patientId}/records': ['post', 'get'],
  '/api/v1/records/{recordId}': ['get', 'delete'],
  '/api/v1/records/{recordId}/content': ['get'],
  '/api/v1/records/{recordId}/verify': ['get'],
  '/api/v1/patients/{patientId}/consents': ['post', 'get'],
  '/api/v1/consents/{consentId}': ['delete'],
  '/api/v1/access-requests': ['post'],
  '/api/v1/patients/{patientId}/access-requests': ['get'],
  '/api/v1/access-requests/{requestId}/approve': ['post'],
  '/api/v1/access-requests/{requestId}/reject': ['post'],
  '/api/v1/audit/records/{recordId}': ['get'],
  '/api/v1/audit/patients/{patientId}': ['get'],
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

interface AuditEvent {
  type: string;
  txId: string;
  blockNumber: number | null;
  timestamp: string;
  hospital: string;
  actor: string;
  patientId: string;
  recordId?: string;
  consentId?: string;
  requestId?: string;
  purpose?: string;
  basis?: string;
}

describe('a document shared between hospitals through REST', () => {
  let rest: Rest;
  const patientId = `Hospital1MSP:e2e-story-${randomUUID()}`;
  const document = randomBytes(DOC_BYTES);
  const documentSha256 = createHash('sha256').update(document).digest('hex');
  const title = `Lab report ${randomUUID().slice(0, 8)}`;
  const clinician = { 1: 'dr-e2e-h1', 2: 'dr-e2e-h2', 3: 'dr-e2e-h3' } as const;
  const H = { 1: '', 2: '', 3: '' } as Record<1 | 2 | 3, string>;

  let recordId = '';
  let storeTxId = '';
  let cid = '';
  let requestId = '';
  let consentId = '';
  const accessTxIds: string[] = [];

  const asClinician = (n: 1 | 2 | 3) => token(n, clinician[n], 'clinician');
  const asPatient = () => token(1, patientId, 'patient');
  const asAuditor = (n: 1 | 2 | 3 = 1) => token(n, `auditor-e2e-h${n}`, 'auditor');
  const content = async (n: 1 | 2 | 3, headers: Record<string, string> = {}) =>
    rest.call(n, 'GET', `/api/v1/records/${recordId}/content`, { token: await asClinician(n), headers });

  beforeAll(async () => {
    rest = await Rest.open();
    for (const n of [1, 2, 3] as const) H[n] = rest.mspId(n);
  });

  test('GET /health answers 200 at every hospital', async () => {
    for (const n of [1, 2, 3]) {
      const r = await rest.call(n, 'GET', '/health');
      expect(expectStatus(r, 200)).toMatchObject({ status: 'ok' });
    }
  });

  test('GET /openapi.json is an OpenAPI 3.1 document with the paths of §7', async () => {
    const r = await rest.call(1, 'GET', '/openapi.json');
    const doc = expectStatus<{ openapi: string; paths: Record<string, Record<string, unknown>> }>(r, 200);
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    for (const [path, methods] of Object.entries(CONTRACT_PATHS)) {
      expect({ path, methods: Object.keys(doc.paths[path] ?? {}) }).toEqual({ path, methods: expect.arrayContaining(methods) });
    }
  });

  test('a clinician at hospital 1 registers the patient there: 201', async () => {
    const r = await rest.call(1, 'POST', '/api/v1/patients', { token: await asClinician(1), json: { patientId } });
    expect(expectStatus(r, 201)).toMatchObject({ patientId, homeHospital: H[1] });
  });

  test('the clinician stores a 62.3 KB PDF lab report: 201 with the §7 body', async () => {
    const r = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/records?category=lab&title=${encodeURIComponent(title)}`, {
      token: await asClinician(1),
      body: document,
      headers: { 'content-type': 'application/pdf' },
    });
    const stored = expectStatus(r, 201);
    expect(stored).toMatchObject({
      recordId: expect.stringMatching(UUID),
      patientId,
      custodian: H[1],
      cid: expect.stringMatching(/^b[a-z2-7]{20,}$/), // CIDv1, base32
      plaintextSize: DOC_BYTES,
      ciphertextSize: expect.any(Number),
      category: 'lab',
      sha256: documentSha256,
      txId: expect.stringMatching(/^[0-9a-f]{64}$/),
      createdAt: expect.stringMatching(ISO_TIME),
    });
    expect(stored.ciphertextSize).toBeGreaterThanOrEqual(DOC_BYTES);
    recordId = stored.recordId;
    storeTxId = stored.txId;
    cid = stored.cid;
  });

  test('the patient sees the record in their list at the home hospital', async () => {
    const r = await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: await asPatient() });
    const list = expectStatus<{ recordId: string; status: string; category: string; cid: string }[]>(r, 200);
    expect(list).toEqual([expect.objectContaining({ recordId, status: 'active', category: 'lab', cid })]);
  });

  test('a clinician at hospital 2 is denied the content without consent: 404, as for an unknown record', async () => {
    // Need-to-know: a hospital with no basis cannot tell the record exists.
    expectProblem(await content(2), 404);
  });

  test('hospital 2 asks for access: 201 pending', async () => {
    const r = await rest.call(2, 'POST', '/api/v1/access-requests', {
      token: await asClinician(2),
      json: { patientId, purpose: 'treatment', reason: 'transfer' },
    });
    const req = expectStatus(r, 201);
    expect(req).toMatchObject({ requestId: expect.stringMatching(UUID), status: 'pending' });
    requestId = req.requestId;
  });

  test('the patient lists the request at home and approves it: 200 with a consentId', async () => {
    const listed = await rest.call(1, 'GET', `/api/v1/patients/${patientId}/access-requests`, { token: await asPatient() });
    expect(expectStatus(listed, 200)).toEqual(
      expect.arrayContaining([expect.objectContaining({ requestId, status: 'pending', requester: H[2], purpose: 'treatment' })]),
    );
    const r = await rest.call(1, 'POST', `/api/v1/access-requests/${requestId}/approve`, { token: await asPatient() });
    const decided = expectStatus(r, 200);
    expect(decided).toMatchObject({ requestId, status: 'approved', consentId: expect.stringMatching(UUID) });
    consentId = decided.consentId;
  });

  test('the consent shows up, active, for hospital 2 in the patient\'s consents', async () => {
    const r = await rest.call(1, 'GET', `/api/v1/patients/${patientId}/consents`, { token: await asPatient() });
    expect(expectStatus(r, 200)).toEqual([
      expect.objectContaining({ consentId, grantee: H[2], status: 'active', purposes: ['treatment'] }),
    ]);
  });

  test('hospital 2 reads the identical bytes and Content-Type once its envelope is delivered', async () => {
    const r = await eventually(
      'hospital 2 to be able to read the record',
      async () => {
        const attempt = await content(2);
        if (attempt.status === 503) {
          // Not delivered yet: the contract promises a Retry-After.
          expect(attempt.headers.get('retry-after')).toMatch(/^\d+$/);
          return undefined;
        }
        return attempt;
      },
      90_000,
      1_000,
    );
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^application\/pdf\b/);
    expect(r.bytes.length).toBe(DOC_BYTES);
    expect(r.bytes.equals(document)).toBe(true);
    const accessTx = r.headers.get('x-access-tx-id');
    if (accessTx) accessTxIds.push(accessTx);
  });

  test('hospital 1 (custodian) and the patient read it too', async () => {
    const byClinician = await content(1);
    expect(byClinician.status).toBe(200);
    expect(byClinician.bytes.equals(document)).toBe(true);
    const byPatient = await rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await asPatient() });
    expect(byPatient.status).toBe(200);
    expect(byPatient.contentType).toMatch(/^application\/pdf\b/);
    expect(byPatient.bytes.equals(document)).toBe(true);
  });

  test('hospital 3 is still denied: 404', async () => {
    expectProblem(await content(3), 404);
  });

  test('hospital 2 reading for a purpose outside the consent (research) is denied: 403', async () => {
    expectProblem(await content(2, { 'x-purpose-of-use': 'research' }), 403);
  });

  test('the patient revokes the consent: 200 revoked', async () => {
    const r = await rest.call(1, 'DELETE', `/api/v1/consents/${consentId}`, { token: await asPatient() });
    expect(expectStatus(r, 200)).toMatchObject({ consentId, status: 'revoked' });
  });

  test('after revocation hospital 2 is denied again: 404 (no basis left)', async () => {
    expectProblem(await content(2), 404);
  });

  test('the auditor sees create, each access, and the consent grant and revoke on the record', async () => {
    const r = await rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: await asAuditor(1) });
    const events = expectStatus<AuditEvent[]>(r, 200);
    for (const e of events) {
      expect({ type: e.type, txId: e.txId, blockNumber: e.blockNumber, timestamp: e.timestamp, hospital: e.hospital, actor: e.actor }).toEqual({
        type: e.type,
        txId: expect.stringMatching(/^[0-9a-f]{64}$/),
        blockNumber: expect.any(Number),
        timestamp: expect.stringMatching(ISO_TIME),
        hospital: expect.stringMatching(/^Hospital[123]MSP$/),
        actor: expect.any(String),
      });
    }
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('RecordCreated');
    expect(events[0]).toMatchObject({ txId: storeTxId, hospital: H[1], actor: clinician[1] });
    const accesses = events.filter((e) => e.type === 'RecordAccessed');
    // Hospital 2 (under the consent), hospital 1's clinician (custodian) and the patient.
    expect(accesses).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ hospital: H[2], actor: clinician[2], purpose: 'treatment', basis: consentId }),
        expect.objectContaining({ hospital: H[1], actor: clinician[1] }),
        expect.objectContaining({ hospital: H[1], actor: patientId }),
      ]),
    );
    for (const tx of accessTxIds) expect(accesses.map((e) => e.txId)).toContain(tx);
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'ConsentGranted', consentId }),
        expect.objectContaining({ type: 'ConsentRevoked', consentId, hospital: H[1], actor: patientId }),
      ]),
    );
    // Denied reads disclosed nothing, so they left no access entry for hospital 3.
    expect(accesses.filter((e) => e.hospital === H[3])).toEqual([]);
  });

  test('the auditor, and the patient at home, see every event for the patient', async () => {
    for (const tok of [await asAuditor(1), await asPatient()]) {
      const r = await rest.call(1, 'GET', `/api/v1/audit/patients/${patientId}`, { token: tok });
      const events = expectStatus<AuditEvent[]>(r, 200);
      expect(events.every((e) => e.patientId === patientId)).toBe(true);
      const types = new Set(events.map((e) => e.type));
      for (const t of ['RecordCreated', 'AccessRequested', 'RequestDecided', 'ConsentGranted', 'ConsentRevoked', 'RecordAccessed']) {
        expect({ event: t, present: types.has(t) }).toEqual({ event: t, present: true });
      }
      expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'AccessRequested', requestId, hospital: H[2] })]));
    }
  });

  test('verify: intact, pinned on at least two cluster peers, with the ledger tx and block', async () => {
    const auditor = await asAuditor(1);
    const v = await eventually(
      'the blob to be pinned on two cluster peers',
      async () => {
        const r = await rest.call(1, 'GET', `/api/v1/records/${recordId}/verify`, { token: auditor });
        const body = expectStatus(r, 200);
        return body.pinnedOn?.length >= 2 ? body : undefined;
      },
      60_000,
      1_000,
    );
    expect(v).toMatchObject({ cid, ledgerTxId: storeTxId, blockNumber: expect.any(Number), intact: true });
    expect(v.pinnedOn.length).toBeGreaterThanOrEqual(2);
    // The home hospital verifies too (no key needed); a hospital with no basis cannot (THREATS #1).
    const home = await rest.call(1, 'GET', `/api/v1/records/${recordId}/verify`, { token: await asClinician(1) });
    expect(expectStatus(home, 200)).toMatchObject({ cid, ledgerTxId: storeTxId, intact: true });
    expectProblem(await rest.call(3, 'GET', `/api/v1/records/${recordId}/verify`, { token: await asClinician(3) }), 404);
  });

  test('the patient erases the record: 200 erased', async () => {
    const r = await rest.call(1, 'DELETE', `/api/v1/records/${recordId}`, { token: await asPatient() });
    expect(expectStatus(r, 200)).toMatchObject({ recordId, status: 'erased' });
  });

  test('after erasure the content is 410 wherever the record is known, 404 where it never was (or no longer is)', async () => {
    const checks: [string, Reply, number][] = [
      ['hospital1 clinician', await content(1), 410],
      ['hospital1 patient', await rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await asPatient() }), 410],
      ['hospital2 clinician (consent revoked)', await content(2), 404],
      ['hospital3 clinician (never a basis)', await content(3), 404],
    ];
    for (const [who, r, status] of checks) {
      expect({ who, status: r.status }).toEqual({ who, status });
      expectProblem(r, status);
    }
    const meta = await rest.call(1, 'GET', `/api/v1/records/${recordId}`, { token: await asClinician(1) });
    expect(expectStatus(meta, 200)).toMatchObject({ recordId, status: 'erased' });
  });

  test('the audit trail ends with the erasure', async () => {
    const r = await rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: await asAuditor(1) });
    const events = expectStatus<AuditEvent[]>(r, 200);
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'RecordErased', hospital: H[1], actor: patientId })]));
  });

  test('GET /metrics counts the requests in ehr_http_requests_total', async () => {
    const r = await rest.call(1, 'GET', '/metrics');
    expect(r.status).toBe(200);
    const text = r.bytes.toString('utf8');
    expect(text).toMatch(/^# TYPE ehr_http_requests_total counter$/m);
    expect(text).toMatch(/^ehr_http_requests_total\{[^}]*\} \d+/m);
  });
});
