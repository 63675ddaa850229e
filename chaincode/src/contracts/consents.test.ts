import { FakeLedger, type Identity } from '../testing/fake-ledger';
import {
  c, clinician, consortium, createRecord, grant, gw, H1, H2, H3, H4, newId, patientActor, registerPatient, rejects,
} from '../testing/fixtures';

describe('Consents', () => {
  let ledger: FakeLedger;
  let patientId: string;
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H1);
  });

  const grantAs = (
    id: Identity,
    o: { consentId?: string; patient?: string; grantee?: string; scope?: string; purposes?: string; expiresAt?: string; actor?: string } = {},
  ) =>
    ledger.invoke(id, (ctx) =>
      c.consents.GrantConsent(
        ctx,
        o.consentId ?? newId(),
        o.patient ?? patientId,
        o.grantee ?? H2,
        o.scope ?? '',
        o.purposes ?? '["treatment"]',
        o.expiresAt ?? '',
        o.actor ?? patientActor(patientId),
      ),
    );

  test('the patient grants through the home hospital', async () => {
    const consentId = newId();
    const out = await grantAs(gw(H1), { consentId, scope: '{"categories":["lab","imaging"]}', purposes: '["treatment","research"]', expiresAt: '2030-06-01T00:00:00Z' });
    expect(out).toEqual({
      consentId, patientId, grantee: H2, scope: { type: 'categories', categories: ['lab', 'imaging'] },
      purposes: ['treatment', 'research'], grantedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-06-01T00:00:00.000Z',
      status: 'active', revokedAt: null, inForce: true,
    });
    expect(ledger.lastEvent).toMatchObject({ name: 'ConsentGranted', payload: { consentId, patientId, grantee: H2 } });
  });

  test('denied: other hospitals, non-patient actors, another patient, non-gateways', async () => {
    await rejects(ledger, grantAs(gw(H2)), 'FORBIDDEN');
    await rejects(ledger, grantAs(gw(H1), { actor: clinician }), 'FORBIDDEN');
    await rejects(ledger, grantAs(gw(H1), { actor: patientActor('p-other-1') }), 'FORBIDDEN');
    await rejects(ledger, grantAs({ mspId: H1, role: 'admin' }), 'FORBIDDEN');
    await rejects(ledger, grantAs(gw(H1), { patient: 'p-unknown', actor: patientActor('p-unknown') }), 'NOT_FOUND');
  });

  test('grantee: a registered hospital other than home', async () => {
    await rejects(ledger, grantAs(gw(H1), { grantee: H4 }), 'NOT_FOUND');
    await rejects(ledger, grantAs(gw(H1), { grantee: H1 }), 'INVALID_ARGUMENT');
    await rejects(ledger, grantAs(gw(H1), { grantee: 'not an msp' }), 'INVALID_ARGUMENT');
  });

  test('expiry must be a future ISO timestamp, judged by the tx timestamp', async () => {
    await rejects(ledger, grantAs(gw(H1), { expiresAt: '2029-12-31T23:59:59Z' }), 'INVALID_ARGUMENT', /future/);
    await rejects(ledger, grantAs(gw(H1), { expiresAt: '2030-01-01T00:00:00Z' }), 'INVALID_ARGUMENT');
    await rejects(ledger, grantAs(gw(H1), { expiresAt: 'next week' }), 'INVALID_ARGUMENT');
  });

  test('scope and purposes are validated; record scopes must name this patient’s records', async () => {
    await rejects(ledger, grantAs(gw(H1), { purposes: '["marketing"]' }), 'INVALID_ARGUMENT');
    await rejects(ledger, grantAs(gw(H1), { purposes: '[]' }), 'INVALID_ARGUMENT');
    await rejects(ledger, grantAs(gw(H1), { scope: '{"categories":["genome"]}' }), 'INVALID_ARGUMENT');
    await rejects(ledger, grantAs(gw(H1), { scope: JSON.stringify({ recordIds: [newId()] }) }), 'NOT_FOUND');
    const other = await registerPatient(ledger, H1);
    const foreign = await createRecord(ledger, H1, other, H1, { envelopes: { [H1]: 'A'.repeat(168) } });
    await rejects(ledger, grantAs(gw(H1), { scope: JSON.stringify({ recordIds: [foreign] }) }), 'INVALID_ARGUMENT');
    const own = await createRecord(ledger, H1, patientId, H1, { envelopes: { [H1]: 'A'.repeat(168) } });
    expect(await grantAs(gw(H1), { scope: JSON.stringify({ recordIds: [own] }) })).toMatchObject({ scope: { type: 'recordIds', recordIds: [own] } });
  });

  test('consent IDs are single-use', async () => {
    const consentId = await grant(ledger, H1, patientId, H2);
    await rejects(ledger, grantAs(gw(H1), { consentId, grantee: H3 }), 'CONFLICT');
  });

  describe('revocation', () => {
    let consentId: string;
    beforeEach(async () => {
      consentId = await grant(ledger, H1, patientId, H2);
    });
    const revoke = (id: Identity, who = patientActor(patientId), cid = consentId) =>
      ledger.invoke(id, (ctx) => c.consents.RevokeConsent(ctx, cid, who));

    test('by the patient at home: status revoked, revokedAt from the tx, ConsentRevoked', async () => {
      ledger.advance(3600);
      expect(await revoke(gw(H1))).toMatchObject({ consentId, status: 'revoked', revokedAt: '2030-01-01T01:00:00.000Z', inForce: false });
      expect(ledger.lastEvent).toMatchObject({ name: 'ConsentRevoked', payload: { consentId, patientId, grantee: H2 } });
    });

    test('denied: the grantee, clinicians, another patient; twice is a conflict; unknown is NOT_FOUND', async () => {
      await rejects(ledger, revoke(gw(H2)), 'FORBIDDEN');
      await rejects(ledger, revoke(gw(H1), clinician), 'FORBIDDEN');
      await rejects(ledger, revoke(gw(H1), patientActor('p-other-1')), 'FORBIDDEN');
      await rejects(ledger, revoke(gw(H1), patientActor(patientId), newId()), 'NOT_FOUND');
      await revoke(gw(H1));
      await rejects(ledger, revoke(gw(H1)), 'CONFLICT');
    });
  });

  test('list and get; inForce follows expiry by the tx timestamp', async () => {
    const a = await grant(ledger, H1, patientId, H2, { expiresAt: '2030-01-02T00:00:00Z' });
    const b = await grant(ledger, H1, patientId, H3);
    const other = await registerPatient(ledger, H1);
    await grant(ledger, H1, other, H2);
    type View = { consentId: string; inForce: boolean };
    const list = (await ledger.invoke(gw(H1), (ctx) => c.consents.ListConsents(ctx, patientId))) as View[];
    expect(list.map((x) => x.consentId).sort()).toEqual([a, b].sort());
    ledger.advance(2 * 86400);
    expect(await ledger.invoke(gw(H2), (ctx) => c.consents.GetConsent(ctx, a))).toMatchObject({ status: 'active', inForce: false });
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.consents.GetConsent(ctx, newId())), 'NOT_FOUND');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.consents.ListConsents(ctx, 'p-none')), 'NOT_FOUND');
  });

  test('need-to-know: the home hospital and custodians list every consent, a grantee its own, others nothing', async () => {
    const toH2 = await grant(ledger, H1, patientId, H2);
    const toH3 = await grant(ledger, H1, patientId, H3, { scope: '{"categories":["lab"]}' });
    type View = { consentId: string };
    const ids = async (msp: string) =>
      ((await ledger.invoke(gw(msp), (ctx) => c.consents.ListConsents(ctx, patientId))) as View[]).map((x) => x.consentId).sort();
    expect(await ids(H1)).toEqual([toH2, toH3].sort());
    expect(await ids(H2)).toEqual([toH2]);
    await rejects(ledger, ledger.invoke(gw(H2), (ctx) => c.consents.GetConsent(ctx, toH3)), 'NOT_FOUND', /consent .* does not exist/);
    await ledger.invoke(gw(H1), (ctx) => c.consents.RevokeConsent(ctx, toH2, patientActor(patientId)));
    // Revoked: no basis left for the patient as a whole, but a party to its own consent.
    await rejects(ledger, ledger.invoke(gw(H2), (ctx) => c.consents.ListConsents(ctx, patientId)), 'NOT_FOUND', /patient .* does not exist/);
    expect(await ledger.invoke(gw(H2), (ctx) => c.consents.GetConsent(ctx, toH2))).toMatchObject({ status: 'revoked' });
    // A custodian of one of the patient's records sees them all: it delivers envelopes under them.
    await createRecord(ledger, H2, patientId, H1);
    expect(await ids(H2)).toEqual([toH2, toH3].sort());
    expect(await ledger.invoke(gw(H2), (ctx) => c.consents.GetConsent(ctx, toH3))).toMatchObject({ consentId: toH3 });
    // Known as custodian from the patient~custodian index; a record created before the index
    // was kept is found by reading the patient's records instead.
    const custodianIndex = [...ledger.state.keys()].filter((k) => k.startsWith('\u0000patient~custodian\u0000'));
    expect(custodianIndex).toEqual([`\u0000patient~custodian\u0000${patientId}\u0000${H2}\u0000`]);
    ledger.state.delete(custodianIndex[0]);
    expect(await ids(H2)).toEqual([toH2, toH3].sort());
    expect(await ids(H3)).toEqual([toH3]);
  });
});
