import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Rest, expectProblem, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Break-glass (DESIGN §9, issue 14): a clinician at hospital 3, which holds no consent,
// declares an emergency for a patient of hospital 1; the custodian delivers the envelopes,
// hospital 3 reads the identical bytes under purpose emergency, every read is logged with a
// break-glass basis, the patient sees and ends the grant, auditors review it, and a grant
// lapses by itself. The consortium-wide setting changes only with a majority of hospitals.

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const JUSTIFICATION = 'Unconscious on arrival after a road accident; allergies and medication history needed now.';

interface Grant {
  consentId: string;
  patientId: string;
  grantee: string;
  purposes: string[];
  expiresAt: string;
  status: string;
  emergency?: { reasonCode: string; declaredBy: string; justificationDigest: string };
}
interface ReviewItem extends Grant {
  homeHospital: string;
  justification?: string;
  justificationVerified?: boolean;
  accesses: { recordId: string; accessor: string; actor: string; purpose: string; basis: string; txId: string }[];
}

describe('break-glass emergency access', () => {
  let rest: Rest;
  const tag = randomUUID();
  const patientId = `Hospital1MSP:e2e-bg-${tag}`;
  const document = randomBytes(8_192);
  let recordId = '';
  let grant: Grant;

  const clinician = (n: number) => token(n, `dr-bg-h${n}`, 'clinician');
  const patient = () => token(1, patientId, 'patient');
  const emergencyRead = async (n: number) =>
    rest.call(n, 'GET', `/api/v1/records/${recordId}/content`, { token: await clinician(n), headers: { 'x-purpose-of-use': 'emergency' } });
  // 503 + Retry-After until the custodian has delivered hospital 3's envelope.
  const readOnceDelivered = (what: string, timeoutMs: number) =>
    eventually(
      what,
      async () => {
        const r = await emergencyRead(3);
        return r.status === 200 ? r : undefined;
      },
      timeoutMs,
      500,
    );
  const declare = async (n: number, json: unknown, who?: string) =>
    rest.call(n, 'POST', `/api/v1/patients/${encodeURIComponent(patientId)}/emergency-access`, { token: who ?? (await clinician(n)), json });
  const review = async (n: number) =>
    expectStatus<ReviewItem[]>(await rest.call(n, 'GET', '/api/v1/audit/emergency-access', { token: await token(n, `auditor-bg-h${n}`, 'auditor') }), 200);
  const consentsOfPatient = async () =>
    expectStatus<Grant[]>(await rest.call(1, 'GET', `/api/v1/patients/${encodeURIComponent(patientId)}/consents`, { token: await patient() }), 200);

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId } }), 201);
    const stored = await rest.call(1, 'POST', `/api/v1/patients/${encodeURIComponent(patientId)}/records?category=note&title=bg`, {
      token: await clinician(1),
      body: document,
      headers: { 'content-type': 'application/octet-stream' },
    });
    recordId = expectStatus(stored, 201).recordId;
  });

  test('bad declarations are refused with problem+json and write nothing', async () => {
    const good = { reasonCode: 'unconscious', justification: JUSTIFICATION };
    expectProblem(await declare(3, { ...good, reasonCode: 'bored' }), 400);
    expectProblem(await declare(3, { reasonCode: 'unconscious' }), 400);
    expectProblem(await declare(3, { ...good, justification: '   ' }), 400);
    expectProblem(await declare(3, { ...good, durationMinutes: 721 }), 400); // above the default maximum (720)
    expectProblem(await declare(3, { ...good, durationMinutes: 0 }), 400);
    expectProblem(await declare(3, { ...good, categories: ['x-ray'] }), 400);
    expectProblem(await declare(3, { ...good, extra: true }), 400);
    // Unknown patient (namespaced under hospital 2): 404, as for any unknown ID.
    expectProblem(
      await rest.call(3, 'POST', `/api/v1/patients/${encodeURIComponent(`Hospital2MSP:nobody-${tag}`)}/emergency-access`, { token: await clinician(3), json: good }),
      404,
    );
    // Roles: a patient or an auditor cannot break the glass; the home hospital needs no break-glass.
    expectProblem(await declare(3, good, await token(3, patientId, 'patient')), 403);
    expectProblem(await declare(3, good, await token(3, 'auditor-bg', 'auditor')), 403);
    expectProblem(await declare(1, good), 409);
    expectProblem(await rest.call(3, 'POST', `/api/v1/patients/${encodeURIComponent(patientId)}/emergency-access`, { json: good }), 401);

    expect(await consentsOfPatient()).toEqual([]);
    expect((await review(3)).filter((g) => g.patientId === patientId)).toEqual([]);
    expect((await review(1)).filter((g) => g.patientId === patientId)).toEqual([]);
    // Without a basis hospital 3 cannot read.
    expectProblem(await emergencyRead(3), 404);
  });

  test('hospital 3 breaks the glass and reads the identical bytes; every read is logged as break-glass', async () => {
    const declared = await declare(3, { reasonCode: 'unconscious', justification: JUSTIFICATION, categories: ['note', 'lab'], durationMinutes: 120 });
    grant = expectStatus<Grant>(declared, 201);
    expect(grant).toMatchObject({ patientId, grantee: rest.mspId(3), purposes: ['emergency'], status: 'active' });
    expect(grant.emergency).toMatchObject({ reasonCode: 'unconscious', declaredBy: 'dr-bg-h3' });
    expect(grant.emergency?.justificationDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(grant)).not.toContain('road accident');
    const minutes = (Date.parse(grant.expiresAt) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(115);
    expect(minutes).toBeLessThanOrEqual(121);
    // A second one while the first is in force: 409.
    expectProblem(await declare(3, { reasonCode: 'life-threatening', justification: JUSTIFICATION }), 409);

    const read = await readOnceDelivered('hospital 3 to read under break-glass (the custodian delivers the envelope)', 60_000);
    expect(sha256(read.bytes)).toBe(sha256(document));
    // The grant allows purpose emergency only.
    expectProblem(await rest.call(3, 'GET', `/api/v1/records/${recordId}/content`, { token: await clinician(3) }), 403);

    const trail = expectStatus<{ type: string; hospital: string; purpose?: string; basis?: string }[]>(
      await rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: await token(1, 'auditor-bg-h1', 'auditor') }),
      200,
    );
    expect(trail.filter((e) => e.type === 'RecordAccessed' && e.hospital === rest.mspId(3))).toEqual([
      expect.objectContaining({ purpose: 'emergency', basis: `breakglass:${grant.consentId}` }),
    ]);
  });

  test('the patient sees the grant at home; auditors review it, the declaring one with the justification', async () => {
    const mine = await consentsOfPatient();
    expect(mine).toEqual([expect.objectContaining({ consentId: grant.consentId, purposes: ['emergency'], emergency: expect.objectContaining({ reasonCode: 'unconscious' }) })]);
    // ... and in their audit trail: declared by the clinician at hospital 3.
    const trail = expectStatus<{ type: string; hospital: string; actor: string; consentId?: string }[]>(
      await rest.call(1, 'GET', `/api/v1/audit/patients/${encodeURIComponent(patientId)}`, { token: await patient() }),
      200,
    );
    expect(trail.filter((e) => e.consentId === grant.consentId && e.type === 'ConsentGranted')).toEqual([
      expect.objectContaining({ hospital: rest.mspId(3), actor: 'dr-bg-h3' }),
    ]);
    // FHIR: a Consent labelled break-the-glass, its provision's purpose emergency treatment.
    const fhir = expectStatus(await rest.call(1, 'GET', `/fhir/R4/Consent/${grant.consentId}`, { token: await patient() }), 200);
    expect(fhir.meta?.security).toEqual([expect.objectContaining({ code: 'BTG' })]);
    expect(fhir.provision.purpose).toEqual([expect.objectContaining({ code: 'ETREAT' })]);

    const declaring = (await review(3)).find((g) => g.consentId === grant.consentId);
    expect(declaring).toMatchObject({ homeHospital: rest.mspId(1), justification: JUSTIFICATION, justificationVerified: true });
    expect(declaring?.accesses).toEqual([
      expect.objectContaining({ recordId, accessor: rest.mspId(3), actor: 'dr-bg-h3', purpose: 'emergency', basis: `breakglass:${grant.consentId}` }),
    ]);
    const home = (await review(1)).find((g) => g.consentId === grant.consentId);
    expect(home?.accesses).toHaveLength(1);
    expect(home?.justification).toBeUndefined(); // it stays at the declaring hospital
    // Hospital 2 has no stake in it: not custodian, not home, not declaring.
    expect((await review(2)).find((g) => g.consentId === grant.consentId)).toBeUndefined();
  });

  test('the patient ends it: reads stop at once', async () => {
    const ended = await rest.call(1, 'DELETE', `/api/v1/consents/${grant.consentId}`, { token: await patient() });
    expect(expectStatus(ended, 200)).toMatchObject({ consentId: grant.consentId, status: 'revoked' });
    expectProblem(await emergencyRead(3), 404);
    const reviewed = (await review(3)).find((g) => g.consentId === grant.consentId);
    expect(reviewed).toMatchObject({ status: 'revoked' });
    expect(reviewed?.accesses).toHaveLength(1);
  });

  test('a grant lapses by itself and its envelope is purged', async () => {
    const declared = await declare(3, { reasonCode: 'life-threatening', justification: JUSTIFICATION, durationMinutes: 1 });
    const short = expectStatus<Grant>(declared, 201);
    const expiresAt = Date.parse(short.expiresAt);
    const read = await readOnceDelivered('hospital 3 to read under the short grant', 45_000);
    expect(sha256(read.bytes)).toBe(sha256(document));
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 1_000 - Date.now())));
    expectProblem(await emergencyRead(3), 404);
    const purge = await eventually(
      "hospital 3's envelope purge after the lapse",
      async () => {
        const r = await rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: await token(1, 'auditor-bg-h1', 'auditor') });
        const events = expectStatus<{ type: string; hospital: string; timestamp: string }[]>(r, 200);
        return events.find((e) => e.type === 'EnvelopePurged' && e.hospital === rest.mspId(3) && Date.parse(e.timestamp) >= expiresAt);
      },
      60_000,
      1_000,
    );
    expect(Date.parse(purge.timestamp)).toBeGreaterThanOrEqual(expiresAt);
  }, 150_000);

  test('the consortium setting changes only when a majority of hospitals approved it', async () => {
    const admin = (n: number) => token(n, `admin-bg-h${n}`, 'admin');
    const before = expectStatus(await rest.call(1, 'GET', '/api/v1/admin/break-glass-settings', { token: await admin(1) }), 200);
    expect(before).toMatchObject({ approvalsNeeded: 2 });
    const disabled = { ...before.settings, enabled: false };
    expectProblem(await rest.call(1, 'POST', '/api/v1/admin/break-glass-settings/approvals', { token: await admin(1), json: { ...disabled, maxDurationMinutes: 0 } }), 400);
    expectProblem(await rest.call(1, 'POST', '/api/v1/admin/break-glass-settings/approvals', { token: await clinician(1), json: disabled }), 403);

    const first = expectStatus(await rest.call(1, 'POST', '/api/v1/admin/break-glass-settings/approvals', { token: await admin(1), json: disabled }), 200);
    expect(first).toMatchObject({ applied: false, approvals: [rest.mspId(1)], needed: 2 });
    expectProblem(await rest.call(1, 'POST', '/api/v1/admin/break-glass-settings/approvals', { token: await admin(1), json: disabled }), 409);
    // One hospital alone changed nothing: hospital 2 can still break the glass for hospital 1's patient.
    const other = `Hospital1MSP:e2e-bg2-${tag}`;
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId: other } }), 201);
    const declareOther = async () =>
      rest.call(2, 'POST', `/api/v1/patients/${encodeURIComponent(other)}/emergency-access`, {
        token: await clinician(2),
        json: { reasonCode: 'unable-to-consent', justification: JUSTIFICATION, durationMinutes: 5 },
      });
    const allowed = expectStatus<Grant>(await declareOther(), 201);

    const second = expectStatus(await rest.call(2, 'POST', '/api/v1/admin/break-glass-settings/approvals', { token: await admin(2), json: disabled }), 200);
    expect(second).toMatchObject({ applied: true, approvals: [rest.mspId(1), rest.mspId(2)] });
    expectStatus(await rest.call(1, 'DELETE', `/api/v1/consents/${allowed.consentId}`, { token: await token(1, other, 'patient') }), 200);
    expectProblem(await declareOther(), 403);

    // Put the defaults back (again by a majority), for any suite that runs after this one.
    for (const n of [2, 3]) {
      expectStatus(await rest.call(n, 'POST', '/api/v1/admin/break-glass-settings/approvals', { token: await admin(n), json: before.settings }), 200);
    }
    const after = expectStatus(await rest.call(3, 'GET', '/api/v1/admin/break-glass-settings', { token: await token(3, 'auditor-bg', 'auditor') }), 200);
    expect(after.settings).toEqual(before.settings);
    expect(after.version).toBe(before.version + 2);
  });
});
