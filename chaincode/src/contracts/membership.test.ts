import { FakeLedger } from '../testing/fake-ledger';
import {
  admin, c, clinician, consortium, createRecord, envelope, grant, gw, H1, H2, H3, H4, newId, publicKeyPem, registerPatient, rejects,
} from '../testing/fixtures';

describe('Membership: a hospital leaves when a majority of the members approve', () => {
  let ledger: FakeLedger;
  beforeEach(async () => {
    ledger = await consortium();
    await ledger.invoke(admin(H4), (ctx) => c.hospitals.RegisterHospital(ctx, 'Hospital Four', publicKeyPem()));
  });

  const approve = (by: string, leaving = H4) => ledger.invoke(admin(by), (ctx) => c.membership.ApproveDeparture(ctx, leaving));
  const confirm = (by: string, leaving = H4) => ledger.invoke(admin(by), (ctx) => c.membership.ConfirmChannelExit(ctx, leaving));
  const members = async () => ((await ledger.invoke(gw(H1), (ctx) => c.hospitals.ListHospitals(ctx))) as { mspId: string }[]).map((h) => h.mspId);

  test('three of four admins: the third approval makes it leave; each earlier one is recorded and announced', async () => {
    expect(await approve(H1)).toEqual({ mspId: H4, approvals: [H1], needed: 3, departed: false, channelLeftAt: null });
    expect(ledger.lastEvent).toMatchObject({ name: 'DepartureApproved', payload: { mspId: H4, approver: H1 } });
    expect(await approve(H4)).toEqual({ mspId: H4, approvals: [H1, H4], needed: 3, departed: false, channelLeftAt: null });
    expect(await members()).toEqual([H1, H2, H3, H4]);
    expect(await approve(H2)).toEqual({ mspId: H4, approvals: [H1, H2, H4], needed: 3, departed: true, channelLeftAt: null });
    expect(ledger.lastEvent).toMatchObject({ name: 'HospitalDeparted', payload: { mspId: H4, patientIds: [] } });
    // Still in the channel, so still counted for endorsement until the exit is confirmed.
    expect(await members()).toEqual([H1, H2, H3, H4]);
    expect(await ledger.invoke(gw(H3), (ctx) => c.membership.GetDeparture(ctx, H4))).toMatchObject({ departed: true, approvals: [H1, H2, H4] });
    ledger.advance(60);
    expect(await confirm(H3)).toMatchObject({ departed: true, channelLeftAt: '2030-01-01T00:01:00.000Z' });
    expect(ledger.lastEvent).toMatchObject({ name: 'HospitalRemoved', payload: { mspId: H4 } });
    expect(await members()).toEqual([H1, H2, H3]);
    const before = ledger.state.size;
    expect(await confirm(H1)).toMatchObject({ channelLeftAt: '2030-01-01T00:01:00.000Z' });
    expect(ledger.state.size).toBe(before);
  });

  test('the exit is confirmed only for an approved departure, by a member admin', async () => {
    await rejects(ledger, confirm(H1), 'CONFLICT', /not been approved/);
    for (const m of [H1, H2, H3]) await approve(m);
    await rejects(ledger, confirm(H4), 'FORBIDDEN');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.membership.ConfirmChannelExit(ctx, H4)), 'FORBIDDEN');
  });

  test('approving twice counts once and writes nothing', async () => {
    await approve(H1);
    const before = ledger.state.size;
    expect(await approve(H1)).toMatchObject({ approvals: [H1], departed: false });
    expect(ledger.state.size).toBe(before);
  });

  test('its consents are revoked at once, and it may be named by no consent, request or envelope any more', async () => {
    const patientId = await registerPatient(ledger, H1);
    const recordId = await createRecord(ledger, H1, patientId, H1);
    const consentId = await grant(ledger, H1, patientId, H4);
    const other = await grant(ledger, H1, patientId, H3);
    await approve(H1);
    await approve(H2);
    await approve(H3);
    expect(ledger.lastEvent).toMatchObject({ name: 'HospitalDeparted', payload: { mspId: H4, patientIds: [patientId] } });
    const consents = (await ledger.invoke(gw(H1), (ctx) => c.consents.ListConsents(ctx, patientId))) as {
      consentId: string;
      status: string;
    }[];
    expect(consents.find((x) => x.consentId === consentId)).toMatchObject({ status: 'revoked', revokedAt: '2030-01-01T00:00:00.000Z' });
    expect(consents.find((x) => x.consentId === other)).toMatchObject({ status: 'active' });
    await rejects(ledger, grant(ledger, H1, patientId, H4), 'NOT_FOUND', /has left/);
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.access.DeliverEnvelope(ctx, recordId, H4), { transient: { envelope: envelope() } }), 'NOT_FOUND');
    await rejects(
      ledger,
      ledger.invoke(gw(H4), (ctx) => c.requests.CreateRequest(ctx, newId(), patientId, 'treatment', '', 'referral', clinician)),
      'FORBIDDEN',
    );
  });

  test('only admins of members approve; a hospital that left approves nothing; leaving twice is a conflict', async () => {
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.membership.ApproveDeparture(ctx, H4)), 'FORBIDDEN');
    await rejects(ledger, approve(H1, 'Hospital9MSP'), 'NOT_FOUND');
    await rejects(ledger, approve(H1, 'not an msp!'), 'INVALID_ARGUMENT');
    for (const m of [H1, H2, H3]) await approve(m);
    await rejects(ledger, approve(H1), 'CONFLICT');
    await rejects(ledger, approve(H4, H3), 'FORBIDDEN');
  });

  test('after a departure the majority counts the remaining members: two of three', async () => {
    for (const m of [H1, H2, H3]) await approve(m);
    expect(await approve(H1, H3)).toMatchObject({ needed: 2, departed: false });
    expect(await approve(H2, H3)).toMatchObject({ needed: 2, departed: true });
    await confirm(H1, H3);
    expect(await members()).toEqual([H1, H2, H4]);
  });
});
