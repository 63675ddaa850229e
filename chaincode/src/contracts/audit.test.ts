import { FakeLedger, type Identity } from '../testing/fake-ledger';
import {
  actor, auditorId, c, clinician, consortium, createRecord, envelope, grant, gw, H1, H2, H3, newId, patientActor,
  registerPatient, rejects,
} from '../testing/fixtures';

interface Entry {
  txId: string;
  timestamp: string;
  action: string;
  subject: { type: string; id: string };
  hospital: string | null;
  actor: string;
  details: Record<string, unknown>;
}

describe('Audit', () => {
  let ledger: FakeLedger;
  let patientId: string;
  let recordId: string;
  let consentId: string;
  let requestId: string;

  // A full story: record at H1 for H2's patient, a request by H3, approval, delivery,
  // a read, revocation, purge, erasure at the home hospital.
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H2);
    ledger.advance(1);
    recordId = await createRecord(ledger, H1, patientId, H2);
    ledger.advance(1);
    requestId = newId();
    await ledger.invoke(gw(H3), (ctx) => c.requests.CreateRequest(ctx, requestId, patientId, 'treatment', '', 'second-opinion', clinician));
    ledger.advance(1);
    consentId = newId();
    await ledger.invoke(gw(H2), (ctx) => c.requests.ApproveRequest(ctx, requestId, consentId, '', patientActor(patientId)));
    ledger.advance(1);
    await ledger.invoke(gw(H1), (ctx) => c.access.DeliverEnvelope(ctx, recordId, H3), { transient: { envelope: envelope() } });
    ledger.advance(1);
    await ledger.invoke(gw(H3), (ctx) => c.access.LogAccess(ctx, recordId, 'treatment', actor('dr-h3', 'clinician')));
    ledger.advance(1);
    await ledger.invoke(gw(H2), (ctx) => c.consents.RevokeConsent(ctx, consentId, patientActor(patientId)));
    ledger.advance(1);
    await ledger.invoke(gw(H3), (ctx) => c.access.PurgeEnvelope(ctx, recordId));
    ledger.advance(1);
    await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
  });

  const recordHistory = (id: Identity, who: string) =>
    ledger.invoke(id, (ctx) => c.audit.RecordHistory(ctx, recordId, who)) as Promise<{ entries: Entry[] }>;
  const patientHistory = (id: Identity, who: string) =>
    ledger.invoke(id, (ctx) => c.audit.PatientHistory(ctx, patientId, who)) as Promise<{ entries: Entry[] }>;

  test('record history: creation, envelopes, consents covering it, each access, erasure, in time order', async () => {
    const { entries } = await recordHistory(auditorId(H1), actor('aud-1', 'auditor'));
    expect(entries.map((e) => [e.action, e.hospital, e.actor])).toEqual([
      ['RecordCreated', H1, 'dr-7f3a'],
      ['EnvelopeDelivered', H1, `gateway@${H1}`], // H1's own
      ['EnvelopeDelivered', H1, `gateway@${H1}`], // H2's, delivered at creation
      ['ConsentGranted', H2, patientId],
      ['EnvelopeDelivered', H1, `gateway@${H1}`], // to H3
      ['RecordAccessed', H3, 'dr-h3'],
      ['ConsentRevoked', H2, patientId],
      ['EnvelopePurged', H3, `gateway@${H3}`],
      ['RecordErased', H2, patientId], // same tx as the next: the eraser purges its own envelope
      ['EnvelopePurged', H2, `gateway@${H2}`],
    ]);
    for (const e of entries) {
      expect(e.txId).toMatch(/^tx\d{6}$/);
      expect(new Date(e.timestamp).toISOString()).toBe(e.timestamp);
    }
    expect(entries.find((e) => e.action === 'RecordAccessed')?.details).toEqual({ patientId, purpose: 'treatment', basis: consentId, role: 'clinician' });
  });

  test('an access entry written before the role was recorded shows the role as unrecorded', async () => {
    const k = [...ledger.state.keys()].find((x) => x.split('\u0000')[1] === 'access' && x.includes(recordId))!;
    const { role, ...legacy } = JSON.parse(Buffer.from(ledger.state.get(k)!).toString());
    expect(role).toBe('clinician');
    ledger.state.set(k, Buffer.from(JSON.stringify(legacy)));
    const { entries } = await recordHistory(auditorId(H1), actor('aud-1', 'auditor'));
    expect(entries.find((e) => e.action === 'RecordAccessed')).toMatchObject({ actor: 'dr-h3', details: { role: 'unrecorded' } });
  });

  test('patient history adds registration and the access request', async () => {
    const { entries } = await patientHistory(gw(H2), patientActor(patientId));
    const actions = entries.map((e) => e.action);
    expect(actions[0]).toBe('PatientRegistered');
    expect(entries[0]).toMatchObject({ hospital: H2, actor: 'dr-7f3a' });
    for (const e of entries) expect(e.actor).toMatch(/\S/);
    expect(actions).toEqual(expect.arrayContaining(['AccessRequested', 'RequestDecided', 'RecordCreated', 'RecordAccessed', 'RecordErased']));
    const asked = entries.find((e) => e.action === 'AccessRequested');
    expect(asked).toMatchObject({ hospital: H3, actor: 'dr-7f3a', subject: { type: 'request', id: requestId } });
    expect(entries.find((e) => e.action === 'RequestDecided')?.details).toMatchObject({ status: 'approved', consentId });
  });

  test('need-to-know: an auditor of a hospital with no basis left (H3 after revocation) gets NOT_FOUND', async () => {
    await rejects(ledger, patientHistory(gw(H3), actor('aud-9', 'auditor')), 'NOT_FOUND', /patient .* does not exist/);
    await rejects(ledger, recordHistory(auditorId(H3), actor('aud-9', 'auditor')), 'NOT_FOUND', /record .* does not exist/);
  });

  test("need-to-know: a grantee's auditor sees its own consents, requests and accesses, not the others'", async () => {
    await grant(ledger, H2, patientId, H1, { scope: '{"categories":["imaging"]}' }); // H1's consent: not H3's business
    const again = await grant(ledger, H2, patientId, H3);
    const { entries } = await patientHistory(gw(H3), actor('aud-9', 'auditor'));
    const consents = new Set(entries.filter((e) => e.subject.type === 'consent').map((e) => e.subject.id));
    expect([...consents].sort()).toEqual([consentId, again].sort());
    expect(new Set(entries.filter((e) => e.subject.type === 'request').map((e) => e.subject.id))).toEqual(new Set([requestId]));
    for (const e of entries.filter((x) => x.action === 'RecordAccessed')) expect(e.hospital).toBe(H3);
    const home = await patientHistory(gw(H2), actor('aud-2', 'auditor'));
    const homeConsents = new Set(home.entries.filter((e) => e.subject.type === 'consent').map((e) => e.subject.id));
    expect(homeConsents.size).toBe(3);
  });

  test('a patient registered before registeredBy was recorded names the unrecorded actor of its home hospital', async () => {
    const k = [...ledger.state.keys()].find((x) => x.split('\u0000')[1] === 'patient' && x.includes(patientId))!;
    const legacy = JSON.parse(Buffer.from(ledger.state.get(k)!).toString());
    delete legacy.registeredBy;
    ledger.versions.get(k)![0].value = Buffer.from(JSON.stringify(legacy));
    const { entries } = await patientHistory(gw(H2), patientActor(patientId));
    expect(entries[0]).toMatchObject({ action: 'PatientRegistered', hospital: H2, actor: `unrecorded@${H2}` });
  });

  test('allowed: auditor identities, gateways acting for an auditor, the patient at home', async () => {
    await recordHistory(auditorId(H1), actor('aud-1', 'auditor'));
    await recordHistory(gw(H1), actor('aud-1', 'auditor'));
    await recordHistory(gw(H2), patientActor(patientId));
    await patientHistory(gw(H1), actor('aud-9', 'auditor'));
  });

  test('denied: clinicians, the patient at another hospital, another patient, admins', async () => {
    await rejects(ledger, recordHistory(gw(H1), clinician), 'FORBIDDEN');
    await rejects(ledger, recordHistory(gw(H1), patientActor(patientId)), 'FORBIDDEN');
    await rejects(ledger, patientHistory(gw(H2), patientActor('p-other-1')), 'FORBIDDEN');
    await rejects(ledger, patientHistory({ mspId: H1, role: 'admin' }, actor('aud-1', 'auditor')), 'FORBIDDEN');
    await rejects(ledger, recordHistory(auditorId(H1), 'nope'), 'INVALID_ARGUMENT');
    await rejects(ledger, ledger.invoke(auditorId(H1), (ctx) => c.audit.RecordHistory(ctx, newId(), actor('a', 'auditor'))), 'NOT_FOUND');
  });

  test('consents not covering the record stay out of its history', async () => {
    const other = await createRecord(ledger, H1, patientId, H2, { category: 'lab' });
    await grant(ledger, H2, patientId, H3, { scope: '{"categories":["imaging"]}' });
    const { entries } = (await ledger.invoke(auditorId(H1), (ctx) =>
      c.audit.RecordHistory(ctx, other, actor('aud-1', 'auditor')),
    )) as { entries: Entry[] };
    expect(entries.filter((e) => e.subject.type === 'consent').map((e) => e.subject.id)).toEqual([consentId, consentId]);
  });
});
