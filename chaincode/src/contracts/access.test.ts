import { FakeLedger, type Identity } from '../testing/fake-ledger';
import {
  actor, admin, c, clinician, consortium, createRecord, envelope, grant, gw, H1, H2, H3, H4, newId, patientActor,
  registerPatient, rejects,
} from '../testing/fixtures';

describe('Access', () => {
  let ledger: FakeLedger;
  let patientId: string;
  let recordId: string; // custodian H1, home H2, category imaging
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H2);
    recordId = await createRecord(ledger, H1, patientId, H2);
  });

  const log = (id: Identity, purpose = 'treatment', who = clinician, rid = recordId) =>
    ledger.invoke(id, (ctx) => c.access.LogAccess(ctx, rid, purpose, who)) as Promise<{ basis: string; txId: string }>;
  const revoke = (consentId: string) =>
    ledger.invoke(gw(H2), (ctx) => c.consents.RevokeConsent(ctx, consentId, patientActor(patientId)));
  const deliver = (id: Identity, grantee: string, transient: Record<string, string> = { envelope: envelope() }) =>
    ledger.invoke(id, (ctx) => c.access.DeliverEnvelope(ctx, recordId, grantee), { transient });
  const getEnvelope = (id: Identity, purpose = 'treatment', peer?: string) =>
    ledger.invoke(id, (ctx) => c.access.GetEnvelope(ctx, recordId, purpose), { peer });
  const purge = (id: Identity) => ledger.invoke(id, (ctx) => c.access.PurgeEnvelope(ctx, recordId));

  describe('the access rule (via LogAccess)', () => {
    test('custodian and home hospital, for any purpose', async () => {
      expect((await log(gw(H1), 'research')).basis).toBe('custodian');
      expect((await log(gw(H2), 'insurance')).basis).toBe('home');
    });

    test('a consent whose scope covers the record and whose purposes include the purpose', async () => {
      const consentId = await grant(ledger, H2, patientId, H3, { scope: '{"categories":["imaging"]}', purposes: '["treatment","research"]' });
      expect((await log(gw(H3), 'research')).basis).toBe(consentId);
    });

    test('denied: no consent, wrong purpose, other category, other record, another patient’s consent', async () => {
      // No basis at all: NOT_FOUND, as for an unknown record (need-to-know); a basis for another purpose: FORBIDDEN.
      await rejects(ledger, log(gw(H3)), 'NOT_FOUND', /does not exist/);
      await grant(ledger, H2, patientId, H3, { purposes: '["research"]' });
      await rejects(ledger, log(gw(H3), 'treatment'), 'FORBIDDEN');
      await grant(ledger, H2, patientId, H3, { scope: '{"categories":["lab"]}' });
      await rejects(ledger, log(gw(H3), 'treatment'), 'FORBIDDEN');
      const otherRecord = await createRecord(ledger, H1, patientId, H2);
      await grant(ledger, H2, patientId, H3, { scope: JSON.stringify({ recordIds: [otherRecord] }) });
      await rejects(ledger, log(gw(H3), 'treatment'), 'FORBIDDEN');
      const other = await registerPatient(ledger, H2);
      await grant(ledger, H2, other, H3);
      await rejects(ledger, log(gw(H3), 'treatment'), 'FORBIDDEN');
    });

    test('a record-ID scope covers exactly that record', async () => {
      const consentId = await grant(ledger, H2, patientId, H3, { scope: JSON.stringify({ recordIds: [recordId] }) });
      expect((await log(gw(H3))).basis).toBe(consentId);
    });

    test('expiry by the transaction timestamp', async () => {
      await grant(ledger, H2, patientId, H3, { expiresAt: '2030-01-01T01:00:00Z' });
      ledger.advance(3599);
      await log(gw(H3));
      ledger.advance(1);
      await rejects(ledger, log(gw(H3)), 'NOT_FOUND');
    });

    test('revocation ends access at once', async () => {
      const consentId = await grant(ledger, H2, patientId, H3);
      await log(gw(H3));
      await revoke(consentId);
      await rejects(ledger, log(gw(H3)), 'NOT_FOUND');
    });

    test('erased records are GONE for everyone, unknown ones NOT_FOUND', async () => {
      await ledger.invoke(gw(H1), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
      await rejects(ledger, log(gw(H1)), 'GONE');
      await rejects(ledger, log(gw(H2)), 'GONE');
      await rejects(ledger, log(gw(H1), 'treatment', clinician, newId()), 'NOT_FOUND');
    });
  });

  describe('LogAccess', () => {
    test('writes access~patient~record~txId with accessor, actor, role, purpose, at, basis and emits RecordAccessed', async () => {
      ledger.advance(10);
      const out = await log(gw(H1));
      const k = `\u0000access\u0000${patientId}\u0000${recordId}\u0000${out.txId}\u0000`;
      expect(JSON.parse(Buffer.from(ledger.state.get(k)!).toString())).toEqual({
        accessor: H1, actor: 'dr-7f3a', role: 'clinician', purpose: 'treatment', at: '2030-01-01T00:00:10.000Z', basis: 'custodian',
      });
      expect(ledger.lastEvent).toEqual({
        name: 'RecordAccessed',
        payload: { recordId, patientId, accessor: H1, purpose: 'treatment', basis: 'custodian', txId: out.txId },
      });
    });

    test('the patient reads their own records through the home hospital, no one else’s', async () => {
      const own: unknown = await log(gw(H2), 'treatment', patientActor(patientId));
      expect(own).toMatchObject({ basis: 'home', role: 'patient' });
      await rejects(ledger, log(gw(H2), 'treatment', patientActor('p-other-1')), 'FORBIDDEN');
    });

    test('denied: auditor and admin actors, non-gateway identities; arguments validated', async () => {
      await rejects(ledger, log(gw(H1), 'treatment', actor('aud-1', 'auditor')), 'FORBIDDEN');
      await rejects(ledger, log(gw(H1), 'treatment', actor('adm-1', 'admin')), 'FORBIDDEN');
      await rejects(ledger, log(admin(H1)), 'FORBIDDEN');
      await rejects(ledger, log(gw(H1), 'marketing'), 'INVALID_ARGUMENT');
      await rejects(ledger, log(gw(H1), '', clinician), 'INVALID_ARGUMENT');
      await rejects(ledger, log(gw(H1), 'treatment', clinician, 'nope'), 'INVALID_ARGUMENT');
    });
  });

  test('CheckAccess is a dry run for the caller’s MSP', async () => {
    expect(await ledger.invoke(gw(H3), (ctx) => c.access.CheckAccess(ctx, recordId, ''))).toEqual({
      recordId, mspId: H3, purpose: null, allowed: false, basis: null, holdsEnvelope: false,
    });
    expect(await ledger.invoke(gw(H1), (ctx) => c.access.CheckAccess(ctx, recordId, 'treatment'))).toMatchObject({
      allowed: true, basis: 'custodian', holdsEnvelope: true,
    });
  });

  describe('envelopes', () => {
    test('custodian and home read their own envelope on their own peer', async () => {
      const out = (await getEnvelope(gw(H1))) as { envelope: string; basis: string };
      expect(out).toMatchObject({ recordId, mspId: H1, basis: 'custodian' });
      expect(Buffer.from(out.envelope, 'base64').length).toBe(125);
      await getEnvelope(gw(H2), 'research');
      await expect(getEnvelope(gw(H1), 'treatment', H2)).rejects.toThrow(/not a member/);
    });

    test('a grantee: NOT_FOUND until delivered, then readable, FORBIDDEN for another purpose, NOT_FOUND after revocation', async () => {
      const consentId = await grant(ledger, H2, patientId, H3);
      await rejects(ledger, getEnvelope(gw(H3)), 'NOT_FOUND', /not been delivered/);
      await deliver(gw(H1), H3);
      expect(ledger.log.at(-1)?.collectionOrgs).toEqual([H3]);
      expect(ledger.lastEvent).toMatchObject({ name: 'EnvelopeDelivered', payload: { recordId, patientId, grantee: H3, deliveredBy: H1 } });
      expect(await getEnvelope(gw(H3))).toMatchObject({ mspId: H3, basis: consentId });
      await rejects(ledger, getEnvelope(gw(H3), 'research'), 'FORBIDDEN');
      await revoke(consentId);
      await rejects(ledger, getEnvelope(gw(H3)), 'NOT_FOUND');
    });

    test('OpenRecord: the record, the basis and the envelope in one read; null until delivered; GetEnvelope\'s refusals', async () => {
      const open = (id: Identity, purpose = 'treatment') =>
        ledger.invoke(id, (ctx) => c.access.OpenRecord(ctx, recordId, purpose)) as Promise<{ basis: string; envelope: string | null; record: Record<string, unknown> }>;
      const own = await open(gw(H1));
      expect(own).toMatchObject({ recordId, mspId: H1, basis: 'custodian', record: { recordId, patientId, custodian: H1, category: 'imaging', status: 'active' } });
      expect(own.envelope).toBe(((await getEnvelope(gw(H1))) as { envelope: string }).envelope);
      // No basis: NOT_FOUND, as for an unknown record; a basis but no envelope yet: null, not an error.
      await rejects(ledger, open(gw(H3)), 'NOT_FOUND', /does not exist/);
      const consentId = await grant(ledger, H2, patientId, H3, { purposes: '["treatment"]' });
      expect(await open(gw(H3))).toMatchObject({ basis: consentId, envelope: null, record: { recordId } });
      await rejects(ledger, open(gw(H3), 'research'), 'FORBIDDEN');
      await deliver(gw(H1), H3);
      expect((await open(gw(H3))).envelope).toEqual(expect.any(String));
      await rejects(ledger, open(admin(H1)), 'FORBIDDEN');
      await rejects(ledger, open(gw(H1), ''), 'INVALID_ARGUMENT');
      await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
      await rejects(ledger, open(gw(H1)), 'GONE');
    });

    test('envelope reads need a gateway identity and a valid purpose; erased is GONE', async () => {
      await rejects(ledger, getEnvelope(admin(H1)), 'FORBIDDEN');
      await rejects(ledger, getEnvelope(gw(H1), ''), 'INVALID_ARGUMENT');
      await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
      await rejects(ledger, getEnvelope(gw(H1)), 'GONE');
    });

    describe('batch delivery (DeliverEnvelopes)', () => {
      const deliverMany = (id: Identity, grantee: string, batch: Record<string, string>) =>
        ledger.invoke(id, (ctx) => c.access.DeliverEnvelopes(ctx, grantee), { transient: { envelopes: JSON.stringify(batch) } }) as Promise<{
          delivered: string[];
          skipped: string[];
          refused: Record<string, string>;
        }>;

      test('delivers many records to one grantee in one transaction; each judged alone; held ones skipped', async () => {
        const consentId = await grant(ledger, H2, patientId, H3, { scope: '{"categories":["imaging"]}' });
        const more = [await createRecord(ledger, H1, patientId, H2), await createRecord(ledger, H1, patientId, H2)];
        const lab = await createRecord(ledger, H1, patientId, H2, { category: 'lab' });
        const otherCustodian = await createRecord(ledger, H2, patientId, H2);
        await deliver(gw(H1), H3); // recordId already held
        const erased = await createRecord(ledger, H1, patientId, H2);
        await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, erased, patientActor(patientId)));
        const unknown = newId();
        const batch = Object.fromEntries([recordId, ...more, lab, erased, unknown].map((id) => [id, envelope()]));
        const out = await deliverMany(gw(H1), H3, batch);
        expect(out.delivered).toEqual([...more].sort());
        expect(out.skipped).toEqual([recordId]);
        expect(out.refused).toEqual({ [lab]: 'FORBIDDEN', [erased]: 'GONE', [unknown]: 'NOT_FOUND' });
        expect(ledger.log.at(-1)?.collectionOrgs).toEqual([H3]);
        expect(ledger.lastEvent).toMatchObject({ name: 'EnvelopesDelivered', payload: { grantee: H3, deliveredBy: H1, recordIds: [...more].sort() } });
        for (const id of more) {
          const read = await ledger.invoke(gw(H3), (ctx) => c.access.GetEnvelope(ctx, id, 'treatment'));
          expect(read).toMatchObject({ mspId: H3, basis: consentId, envelope: batch[id] });
        }
        // The home hospital may deliver too; what the custodian delivered is skipped, not a failure.
        const again = await deliverMany(gw(H2), H3, Object.fromEntries([...more, otherCustodian].map((id) => [id, envelope()])));
        expect(again.skipped).toEqual([...more].sort());
        expect(again.delivered).toEqual([otherCustodian]);
        // A third party holds the key of none of them.
        const third = await deliverMany(gw(H4), H3, { [recordId]: envelope() });
        expect(third.refused).toEqual({ [recordId]: 'FORBIDDEN' });
      });

      test('the caller’s own envelopes in one read (GetEnvelopes), only those it may open', async () => {
        const other = await createRecord(ledger, H1, patientId, H2);
        const read = (id: Identity, ids: string[], except = '') =>
          ledger.invoke(id, (ctx) => c.access.GetEnvelopes(ctx, JSON.stringify(ids), except)) as Promise<Record<string, string>>;
        expect(Object.keys(await read(gw(H1), [recordId, other, newId()])).sort()).toEqual([recordId, other].sort());
        expect(await read(gw(H3), [recordId])).toEqual({});
        // Those the grantee holds already are left out: nothing to deliver.
        await grant(ledger, H2, patientId, H3);
        await deliver(gw(H1), H3);
        expect(Object.keys(await read(gw(H2), [recordId, other], H3))).toEqual([other]);
        await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.access.GetEnvelopes(ctx, '{}', '')), 'INVALID_ARGUMENT');
        // A full batch of record IDs is longer than an ordinary JSON argument may be.
        const many = [recordId, ...Array.from({ length: 999 }, () => newId())];
        expect(Object.keys(await read(gw(H1), many))).toEqual([recordId]);
        await rejects(ledger, read(gw(H1), [...many, newId()]), 'INVALID_ARGUMENT');
      });

      test('refused as a whole: to itself, unregistered grantee, empty, not JSON, too many, not a gateway', async () => {
        await grant(ledger, H2, patientId, H3);
        await rejects(ledger, deliverMany(gw(H1), H1, { [recordId]: envelope() }), 'FORBIDDEN');
        await rejects(ledger, deliverMany(gw(H1), H4, { [recordId]: envelope() }), 'NOT_FOUND');
        await rejects(ledger, deliverMany(gw(H1), H3, {}), 'INVALID_ARGUMENT');
        await rejects(ledger, deliverMany(gw(H1), H3, { 'not-a-uuid': envelope() }), 'INVALID_ARGUMENT');
        await rejects(
          ledger,
          deliverMany(gw(H1), H3, Object.fromEntries(Array.from({ length: 1001 }, () => [newId(), envelope()]))),
          'INVALID_ARGUMENT',
        );
        await rejects(ledger, deliverMany(admin(H1), H3, { [recordId]: envelope() }), 'FORBIDDEN');
        await rejects(
          ledger,
          ledger.invoke(gw(H1), (ctx) => c.access.DeliverEnvelopes(ctx, H3), { transient: { envelopes: 'nope' } }),
          'INVALID_ARGUMENT',
        );
      });
    });

    test('delivery by the home hospital works too', async () => {
      await grant(ledger, H2, patientId, H3);
      await deliver(gw(H2), H3);
    });

    test('delivery denied: grantee without access, third parties, to itself, twice, unregistered, no transient, erased', async () => {
      await rejects(ledger, deliver(gw(H1), H3), 'FORBIDDEN');
      await grant(ledger, H2, patientId, H3);
      await rejects(ledger, deliver(gw(H3), H3), 'FORBIDDEN');
      await rejects(ledger, deliver(gw(H1), H1), 'FORBIDDEN');
      await rejects(ledger, deliver(admin(H1), H3), 'FORBIDDEN');
      await rejects(ledger, deliver(gw(H1), H4), 'NOT_FOUND');
      await rejects(ledger, deliver(gw(H1), H3, {}), 'INVALID_ARGUMENT');
      await rejects(ledger, deliver(gw(H1), H3, { envelope: 'not base64!' }), 'INVALID_ARGUMENT');
      await deliver(gw(H1), H3);
      await rejects(ledger, deliver(gw(H1), H3), 'CONFLICT');
      await ledger.invoke(gw(H1), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
      await rejects(ledger, deliver(gw(H2), H3), 'GONE');
    });

    test('purge: refused while access holds, allowed after revocation; a new consent allows re-delivery', async () => {
      const consentId = await grant(ledger, H2, patientId, H3);
      await deliver(gw(H1), H3);
      await rejects(ledger, purge(gw(H3)), 'CONFLICT');
      await rejects(ledger, purge(gw(H1)), 'CONFLICT');
      await revoke(consentId);
      expect(await purge(gw(H3))).toEqual({ recordId, mspId: H3, purged: true });
      expect(ledger.log.at(-1)?.collectionOrgs).toEqual([H3]);
      expect(ledger.lastEvent).toMatchObject({ name: 'EnvelopePurged', payload: { recordId, patientId, mspId: H3 } });
      expect(ledger.privateData.get(`_implicit_org_${H3}`)?.size).toBe(0);
      await rejects(ledger, purge(gw(H3)), 'NOT_FOUND');
      await grant(ledger, H2, patientId, H3);
      await deliver(gw(H1), H3);
    });

    test('ListHeld names the records whose envelope the caller holds, even after its consent ended', async () => {
      const consentId = await grant(ledger, H2, patientId, H3);
      const held = () => ledger.invoke(gw(H3), (ctx) => c.access.ListHeld(ctx, patientId));
      expect(await held()).toEqual([]);
      await deliver(gw(H1), H3);
      await revoke(consentId);
      // No basis left: the records are hidden from H3, but it still learns what it must purge.
      await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.records.ListRecords(ctx, patientId, '')), 'NOT_FOUND');
      expect(await held()).toEqual([{ recordId }]);
      await purge(gw(H3));
      expect(await held()).toEqual([]);
    });

    test('purge after expiry, and after erasure by every other holder', async () => {
      await grant(ledger, H2, patientId, H3, { expiresAt: '2030-01-02T00:00:00Z' });
      await deliver(gw(H1), H3);
      ledger.advance(2 * 86400);
      await purge(gw(H3));
      await ledger.invoke(gw(H1), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
      await purge(admin(H2));
      const holders = await ledger.invoke(gw(H1), (ctx) => c.access.ListHolders(ctx, recordId));
      expect(holders).toEqual([]);
    });

    test('purge needs a gateway or admin identity', async () => {
      await rejects(ledger, purge({ mspId: H1, role: 'auditor' }), 'FORBIDDEN');
      await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.access.PurgeEnvelope(ctx, newId())), 'NOT_FOUND');
    });
  });
});
