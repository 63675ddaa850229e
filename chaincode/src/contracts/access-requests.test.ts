import { FakeLedger, type Identity } from '../testing/fake-ledger';
import {
  admin, c, clinician, consortium, createRecord, gw, H1, H2, H3, newId, patientActor, registerPatient, rejects,
} from '../testing/fixtures';

describe('AccessRequests', () => {
  let ledger: FakeLedger;
  let patientId: string;
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H1);
  });

  const request = (id: Identity, o: { requestId?: string; patient?: string; purpose?: string; scope?: string; reason?: string; actor?: string } = {}) =>
    ledger.invoke(id, (ctx) =>
      c.requests.CreateRequest(
        ctx,
        o.requestId ?? newId(),
        o.patient ?? patientId,
        o.purpose ?? 'treatment',
        o.scope ?? '',
        o.reason ?? 'transfer',
        o.actor ?? clinician,
      ),
    ) as Promise<{ requestId: string }>;
  const approve = (id: Identity, requestId: string, consentId = newId(), who = patientActor(patientId), expiresAt = '') =>
    ledger.invoke(id, (ctx) => c.requests.ApproveRequest(ctx, requestId, consentId, expiresAt, who));
  const reject = (id: Identity, requestId: string, who = patientActor(patientId)) =>
    ledger.invoke(id, (ctx) => c.requests.RejectRequest(ctx, requestId, who));

  test('a clinician asks through their own gateway for another hospital’s patient', async () => {
    const requestId = newId();
    const out = await request(gw(H2), { requestId, scope: '{"categories":["lab"]}' });
    expect(out).toEqual({
      requestId, patientId, requester: H2, purpose: 'treatment', scope: { type: 'categories', categories: ['lab'] },
      reason: 'transfer', status: 'pending', requestedAt: '2030-01-01T00:00:00.000Z', requestedBy: 'dr-7f3a',
      decidedAt: null, consentId: null,
    });
    expect(ledger.lastEvent).toMatchObject({ name: 'AccessRequested', payload: { requestId, patientId, requester: H2, homeHospital: H1 } });
  });

  test('denied: the home hospital, patient actors, unregistered hospitals, non-gateways; validated; single-use IDs', async () => {
    await rejects(ledger, request(gw(H1)), 'INVALID_ARGUMENT');
    await rejects(ledger, request(gw(H2), { actor: patientActor(patientId) }), 'FORBIDDEN');
    await rejects(ledger, request(gw('Hospital4MSP')), 'FORBIDDEN');
    await rejects(ledger, request(admin(H2)), 'FORBIDDEN');
    await rejects(ledger, request(gw(H2), { patient: 'p-unknown' }), 'NOT_FOUND');
    await rejects(ledger, request(gw(H2), { reason: 'Patient Jane Doe\nDOB 1970-01-01' }), 'INVALID_ARGUMENT');
    await rejects(ledger, request(gw(H2), { reason: 'x'.repeat(141) }), 'INVALID_ARGUMENT');
    // Free text, even short and harmless-looking, is refused: only codes from REASONS reach the ledger.
    await rejects(ledger, request(gw(H2), { reason: 'Transfer of care' }), 'INVALID_ARGUMENT');
    await rejects(ledger, request(gw(H2), { reason: 'Referral' }), 'INVALID_ARGUMENT');
    await rejects(ledger, request(gw(H2), { purpose: 'marketing' }), 'INVALID_ARGUMENT');
    await rejects(ledger, request(gw(H2), { scope: JSON.stringify({ recordIds: [newId()] }) }), 'NOT_FOUND');
    const { requestId } = await request(gw(H2));
    await rejects(ledger, request(gw(H3), { requestId }), 'CONFLICT');
  });

  test('approval by the patient at home creates a consent with the request’s purpose and scope', async () => {
    const recordId = await createRecord(ledger, H1, patientId, H1, { envelopes: { [H1]: 'A'.repeat(168) } });
    const { requestId } = await request(gw(H2), { purpose: 'research', scope: JSON.stringify({ recordIds: [recordId] }) });
    const consentId = newId();
    ledger.advance(60);
    const out = await approve(gw(H1), requestId, consentId);
    expect(out).toMatchObject({ requestId, status: 'approved', decidedAt: '2030-01-01T00:01:00.000Z', consentId });
    expect(ledger.lastEvent).toMatchObject({
      name: 'RequestDecided',
      payload: { requestId, patientId, requester: H2, status: 'approved', consentId },
    });
    expect(await ledger.invoke(gw(H2), (ctx) => c.consents.GetConsent(ctx, consentId))).toMatchObject({
      patientId, grantee: H2, purposes: ['research'], scope: { type: 'recordIds', recordIds: [recordId] }, expiresAt: null, status: 'active',
    });
    expect(await ledger.invoke(gw(H2), (ctx) => c.access.LogAccess(ctx, recordId, 'research', clinician))).toMatchObject({ basis: consentId });
  });

  test('approval with an expiry', async () => {
    const { requestId } = await request(gw(H2));
    const consentId = newId();
    await approve(gw(H1), requestId, consentId, patientActor(patientId), '2030-02-01T00:00:00Z');
    expect(await ledger.invoke(gw(H2), (ctx) => c.consents.GetConsent(ctx, consentId))).toMatchObject({ expiresAt: '2030-02-01T00:00:00.000Z' });
  });

  test('approval denied: requester, clinicians, another patient; decided once; consent IDs single-use', async () => {
    const { requestId } = await request(gw(H2));
    await rejects(ledger, approve(gw(H2), requestId), 'FORBIDDEN');
    await rejects(ledger, approve(gw(H1), requestId, newId(), clinician), 'FORBIDDEN');
    await rejects(ledger, approve(gw(H1), requestId, newId(), patientActor('p-other-1')), 'FORBIDDEN');
    await rejects(ledger, approve(gw(H1), newId()), 'NOT_FOUND');
    await rejects(ledger, approve(gw(H1), requestId, newId(), patientActor(patientId), '2029-01-01T00:00:00Z'), 'INVALID_ARGUMENT');
    const consentId = newId();
    await approve(gw(H1), requestId, consentId);
    await rejects(ledger, approve(gw(H1), requestId), 'CONFLICT');
    await rejects(ledger, reject(gw(H1), requestId), 'CONFLICT');
    const second = await request(gw(H3));
    await rejects(ledger, approve(gw(H1), second.requestId, consentId), 'CONFLICT');
  });

  test('rejection by the patient at home; then it cannot be approved', async () => {
    const { requestId } = await request(gw(H2));
    await rejects(ledger, reject(gw(H2), requestId), 'FORBIDDEN');
    await rejects(ledger, reject(gw(H1), requestId, clinician), 'FORBIDDEN');
    expect(await reject(gw(H1), requestId)).toMatchObject({ status: 'rejected', consentId: null });
    expect(ledger.lastEvent).toMatchObject({ name: 'RequestDecided', payload: { status: 'rejected', consentId: null } });
    await rejects(ledger, approve(gw(H1), requestId), 'CONFLICT');
    expect(await ledger.invoke(gw(H1), (ctx) => c.consents.ListConsents(ctx, patientId))).toEqual([]);
  });

  test('list and get', async () => {
    const a = await request(gw(H2));
    const b = await request(gw(H3));
    const other = await registerPatient(ledger, H1);
    await request(gw(H2), { patient: other });
    const list = (await ledger.invoke(gw(H1), (ctx) => c.requests.ListRequests(ctx, patientId))) as { requestId: string }[];
    expect(list.map((r) => r.requestId).sort()).toEqual([a.requestId, b.requestId].sort());
    expect(await ledger.invoke(gw(H1), (ctx) => c.requests.GetRequest(ctx, a.requestId))).toMatchObject({ status: 'pending' });
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.requests.GetRequest(ctx, newId())), 'NOT_FOUND');
  });

  test('need-to-know: the home hospital sees every request, a requester its own, others nothing', async () => {
    const a = await request(gw(H2), { reason: 'referral' });
    const b = await request(gw(H3));
    type Row = { requestId: string };
    const mine = (await ledger.invoke(gw(H2), (ctx) => c.requests.ListRequests(ctx, patientId))) as Row[];
    expect(mine.map((r) => r.requestId)).toEqual([a.requestId]);
    expect(await ledger.invoke(gw(H2), (ctx) => c.requests.GetRequest(ctx, a.requestId))).toMatchObject({ requester: H2 });
    await rejects(ledger, ledger.invoke(gw(H2), (ctx) => c.requests.GetRequest(ctx, b.requestId)), 'NOT_FOUND', /access request .* does not exist/);
    // A hospital that never asked and holds nothing: the patient does not exist for it.
    const quiet = await registerPatient(ledger, H1);
    await request(gw(H3), { patient: quiet });
    await rejects(ledger, ledger.invoke(gw(H2), (ctx) => c.requests.ListRequests(ctx, quiet)), 'NOT_FOUND', /patient .* does not exist/);
  });
});
