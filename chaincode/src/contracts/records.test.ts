import { FakeLedger, type Identity } from '../testing/fake-ledger';
import {
  admin, c, CID, clinician, consortium, createRecord, envelope, grant, gw, H1, H2, H3, H4, newCid, newId, patientActor,
  registerPatient, rejects,
} from '../testing/fixtures';

const envelopeKey = (recordId: string) => `\u0000envelope\u0000${recordId}\u0000`;

describe('Records', () => {
  let ledger: FakeLedger;
  let patientId: string;
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H2); // home H2; H1 stores records as custodian
  });

  const create = (id: Identity, args: Partial<Record<string, string>>, transient?: Record<string, string>) =>
    ledger.invoke(
      id,
      (ctx) =>
        c.records.CreateRecord(
          ctx,
          args.recordId ?? newId(),
          args.patientId ?? patientId,
          args.cid ?? newCid(),
          args.size ?? '63800',
          args.category ?? 'lab',
          args.supersedes ?? '',
          args.actor ?? clinician,
        ),
      { transient: transient ?? { envelopes: JSON.stringify({ [H1]: envelope(), [H2]: envelope() }) } },
    );

  test('a gateway creates a record: custodian = caller, fields of §4, envelopes for custodian and home', async () => {
    const recordId = newId();
    const envs: Record<string, string> = { [H1]: envelope(), [H2]: envelope() };
    const out = await create(gw(H1), { recordId, cid: CID }, { envelopes: JSON.stringify(envs) });
    expect(out).toEqual({
      recordId, patientId, custodian: H1, cid: CID, size: 63800, category: 'lab', supersedes: null,
      status: 'active', createdAt: '2030-01-01T00:00:00.000Z', createdBy: 'dr-7f3a',
    });
    for (const msp of [H1, H2]) {
      const stored = JSON.parse(Buffer.from(ledger.privateData.get(`_implicit_org_${msp}`)!.get(envelopeKey(recordId))!).toString());
      expect(stored).toEqual({ envelope: envs[msp], storedAt: '2030-01-01T00:00:00.000Z' });
    }
    expect(ledger.log.at(-1)?.collectionOrgs).toEqual([H1, H2]);
    expect(ledger.lastEvent).toEqual({
      name: 'RecordCreated',
      payload: { recordId, patientId, custodian: H1, homeHospital: H2, holders: [H1, H2], txId: ledger.log.at(-1)?.txId },
    });
    const holders = await ledger.invoke(gw(H2), (ctx) => c.access.ListHolders(ctx, recordId));
    expect(holders).toEqual([
      { mspId: H1, since: '2030-01-01T00:00:00.000Z', deliveredBy: H1 },
      { mspId: H2, since: '2030-01-01T00:00:00.000Z', deliveredBy: H1 },
    ]);
  });

  test('PlanRecord: the home hospital and the members a consent in force lets read a new record of the category', async () => {
    const plan = (id: Identity, category = 'lab', pid = patientId) =>
      ledger.invoke(id, (ctx) => c.records.PlanRecord(ctx, pid, newId(), category)) as Promise<{ homeHospital: string; grantees: string[] }>;
    expect(await plan(gw(H1))).toMatchObject({ patientId, homeHospital: H2, grantees: [] });
    await grant(ledger, H2, patientId, H3, { scope: '{"categories":["imaging"]}' });
    // A category outside a consent's scope is not covered.
    expect((await plan(gw(H1), 'imaging')).grantees).toEqual([H3]);
    expect((await plan(gw(H1), 'lab')).grantees).toEqual([]);
    const toH1 = await grant(ledger, H2, patientId, H1);
    // The caller (the future custodian) and the home hospital are never listed.
    expect((await plan(gw(H1), 'imaging')).grantees).toEqual([H3]);
    expect((await plan(gw(H3), 'lab')).grantees).toEqual([H1]);
    await ledger.invoke(gw(H2), (ctx) => c.consents.RevokeConsent(ctx, toH1, patientActor(patientId)));
    expect((await plan(gw(H3), 'lab')).grantees).toEqual([]);
    // What it plans, CreateRecord accepts: an envelope for each grantee beside the mandatory two.
    const { grantees } = await plan(gw(H1), 'imaging');
    const envs = Object.fromEntries([H1, H2, ...grantees].map((m) => [m, envelope()]));
    await create(gw(H1), { category: 'imaging' }, { envelopes: JSON.stringify(envs) });
    expect(ledger.lastEvent).toMatchObject({ name: 'RecordCreated', payload: { holders: [H1, H2, H3] } });
    await rejects(ledger, plan(gw(H1), 'lab', 'Hospital2MSP:nobody'), 'NOT_FOUND');
    await rejects(ledger, plan(gw(H1), 'nonsense'), 'INVALID_ARGUMENT');
    await rejects(ledger, plan(admin(H1)), 'FORBIDDEN');
  });

  test('a CID already named by a record is refused, for any hospital and even once that record is erased', async () => {
    const cid = newCid();
    const first = newId();
    await create(gw(H1), { recordId: first, cid });
    const other = await registerPatient(ledger, H3);
    await rejects(
      ledger,
      create(gw(H3), { patientId: other, cid }, { envelopes: JSON.stringify({ [H3]: envelope() }) }),
      'CONFLICT',
      /cid/,
    );
    await ledger.invoke(gw(H1), (ctx) => c.records.EraseRecord(ctx, first, patientActor(patientId)));
    await rejects(ledger, create(gw(H1), { cid }), 'CONFLICT', /cid/);
  });

  test('when custodian and home are the same hospital one envelope suffices', async () => {
    await create(gw(H2), {}, { envelopes: JSON.stringify({ [H2]: envelope() }) });
  });

  test("the custodian's and the home hospital's envelopes are mandatory, and only from transient data", async () => {
    await rejects(ledger, create(gw(H1), {}, { envelopes: JSON.stringify({ [H1]: envelope() }) }), 'INVALID_ARGUMENT', /Hospital2MSP/);
    await rejects(ledger, create(gw(H1), {}, { envelopes: JSON.stringify({ [H2]: envelope() }) }), 'INVALID_ARGUMENT', /Hospital1MSP/);
    await rejects(ledger, create(gw(H1), {}, {}), 'INVALID_ARGUMENT', /transient/);
    await rejects(ledger, create(gw(H1), {}, { envelopes: '[]' }), 'INVALID_ARGUMENT');
    await rejects(ledger, create(gw(H1), {}, { envelopes: JSON.stringify({ [H1]: 'short', [H2]: envelope() }) }), 'INVALID_ARGUMENT');
  });

  test('extra envelopes only for registered hospitals that already have access', async () => {
    const three = { envelopes: JSON.stringify({ [H1]: envelope(), [H2]: envelope(), [H3]: envelope() }) };
    await rejects(ledger, create(gw(H1), {}, three), 'FORBIDDEN');
    const four = { envelopes: JSON.stringify({ [H1]: envelope(), [H2]: envelope(), [H4]: envelope() }) };
    await rejects(ledger, create(gw(H1), {}, four), 'NOT_FOUND');
    await grant(ledger, H2, patientId, H3, { scope: '{"categories":["lab"]}' });
    await create(gw(H1), {}, three);
    expect(ledger.log.at(-1)?.collectionOrgs).toEqual([H1, H2, H3]);
  });

  test('the custodian must itself be registered (its envelope needs a key)', async () => {
    const envs = { envelopes: JSON.stringify({ [H4]: envelope(), [H2]: envelope() }) };
    await rejects(ledger, create(gw(H4), {}, envs), 'NOT_FOUND');
  });

  test('record IDs are single-use (replay protection)', async () => {
    const recordId = newId();
    await create(gw(H1), { recordId });
    await rejects(ledger, create(gw(H1), { recordId }), 'CONFLICT');
    await rejects(ledger, create(gw(H3), { recordId }, { envelopes: JSON.stringify({ [H3]: envelope(), [H2]: envelope() }) }), 'CONFLICT');
  });

  test('only gateways acting for a clinician, for a known patient', async () => {
    await rejects(ledger, create(admin(H1), {}), 'FORBIDDEN');
    await rejects(ledger, create({ mspId: H1 }, {}), 'FORBIDDEN');
    await rejects(ledger, create(gw(H1), { actor: patientActor(patientId) }), 'FORBIDDEN');
    await rejects(ledger, create(gw(H1), { patientId: 'p-unknown' }), 'NOT_FOUND');
  });

  test('every argument is validated', async () => {
    for (const args of [
      { recordId: 'r-1' }, { patientId: 'Jane Doe' }, { cid: 'QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o' },
      { size: '0' }, { size: 'abc' }, { category: 'xray' }, { supersedes: 'nope' }, { actor: '{}' },
    ]) {
      await rejects(ledger, create(gw(H1), args), 'INVALID_ARGUMENT');
    }
  });

  test('supersedes: same patient, by its custodian or the home hospital, not erased', async () => {
    const first = await createRecord(ledger, H1, patientId, H2);
    const out = (await create(gw(H1), { supersedes: first })) as { supersedes: string };
    expect(out.supersedes).toBe(first);
    await create(gw(H2), { supersedes: first }, { envelopes: JSON.stringify({ [H2]: envelope() }) });
    const other = await registerPatient(ledger, H2);
    await rejects(ledger, create(gw(H1), { supersedes: first, patientId: other }), 'INVALID_ARGUMENT');
    await rejects(ledger, create(gw(H1), { supersedes: newId() }), 'NOT_FOUND');
    const envs3 = { envelopes: JSON.stringify({ [H3]: envelope(), [H2]: envelope() }) };
    await rejects(ledger, create(gw(H3), { supersedes: first }, envs3), 'FORBIDDEN');
    const self = newId();
    await rejects(ledger, create(gw(H1), { recordId: self, supersedes: self }), 'INVALID_ARGUMENT');
    await ledger.invoke(gw(H1), (ctx) => c.records.EraseRecord(ctx, first, patientActor(patientId)));
    await rejects(ledger, create(gw(H1), { supersedes: first }), 'GONE');
  });

  test("listing a patient's records by range scan, with the caller's basis", async () => {
    const a = await createRecord(ledger, H1, patientId, H2, { category: 'lab' });
    const b = await createRecord(ledger, H1, patientId, H2, { category: 'imaging' });
    const other = await registerPatient(ledger, H2);
    await createRecord(ledger, H1, other, H2);
    await grant(ledger, H2, patientId, H3, { scope: '{"categories":["lab"]}', purposes: '["research"]' });

    type Row = { recordId: string; access: string | null };
    const home = (await ledger.invoke(gw(H2), (ctx) => c.records.ListRecords(ctx, patientId, ''))) as Row[];
    expect(home.map((r) => r.recordId).sort()).toEqual([a, b].sort());
    // Need-to-know: a grantee sees the records its consent covers, not the others.
    const all = (await ledger.invoke(gw(H3), (ctx) => c.records.ListRecords(ctx, patientId, ''))) as Row[];
    expect(all.map((r) => r.recordId)).toEqual([a]);
    expect(all[0].access).toMatch(/^[0-9a-f-]{36}$/);
    const research = (await ledger.invoke(gw(H3), (ctx) => c.records.ListRecords(ctx, patientId, 'research'))) as Row[];
    expect(research.map((r) => r.recordId)).toEqual([a]);
    expect(await ledger.invoke(gw(H3), (ctx) => c.records.ListRecords(ctx, patientId, 'treatment'))).toEqual([]);
    const custodian = (await ledger.invoke(gw(H1), (ctx) => c.records.ListRecords(ctx, patientId, 'treatment'))) as Row[];
    expect(custodian.map((r) => r.access)).toEqual(['custodian', 'custodian']);
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.records.ListRecords(ctx, 'p-none', '')), 'NOT_FOUND');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.records.ListRecords(ctx, patientId, 'fun')), 'INVALID_ARGUMENT');
  });

  test('need-to-know: a hospital with no basis gets NOT_FOUND, worded as for an unknown ID', async () => {
    const recordId = await createRecord(ledger, H1, patientId, H2, { category: 'lab' });
    const unknown = newId();
    for (const [call, id] of [
      [(ctx: Parameters<typeof c.records.GetRecord>[0], rid: string) => c.records.GetRecord(ctx, rid), recordId],
      [(ctx: Parameters<typeof c.records.GetRecord>[0], rid: string) => c.records.LocateRecord(ctx, rid), recordId],
      [(ctx: Parameters<typeof c.records.GetRecord>[0], rid: string) => c.access.ListHolders(ctx, rid), recordId],
    ] as const) {
      await rejects(ledger, ledger.invoke(gw(H3), (ctx) => call(ctx, id)), 'NOT_FOUND', new RegExp(`record ${id} does not exist`));
      await rejects(ledger, ledger.invoke(gw(H3), (ctx) => call(ctx, unknown)), 'NOT_FOUND', new RegExp(`record ${unknown} does not exist`));
    }
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.records.ListRecords(ctx, patientId, '')), 'NOT_FOUND', /patient .* does not exist/);
    // Custodian and home see it; a consent covering it opens it to the grantee, a revocation closes it again.
    expect(await ledger.invoke(gw(H1), (ctx) => c.records.GetRecord(ctx, recordId))).toMatchObject({ recordId });
    expect(await ledger.invoke(gw(H2), (ctx) => c.records.GetRecord(ctx, recordId))).toMatchObject({ recordId });
    const consentId = await grant(ledger, H2, patientId, H3, { scope: '{"categories":["lab"]}' });
    expect(await ledger.invoke(gw(H3), (ctx) => c.records.GetRecord(ctx, recordId))).toMatchObject({ recordId });
    await ledger.invoke(gw(H2), (ctx) => c.consents.RevokeConsent(ctx, consentId, patientActor(patientId)));
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.records.GetRecord(ctx, recordId)), 'NOT_FOUND');
  });

  describe('erasure', () => {
    let recordId: string;
    beforeEach(async () => {
      recordId = await createRecord(ledger, H1, patientId, H2, { cid: CID });
    });
    const erase = (id: Identity, who = patientActor(patientId), rid = recordId) =>
      ledger.invoke(id, (ctx) => c.records.EraseRecord(ctx, rid, who));

    test('the patient at the custodian: status erased, key kept, own envelope purged, RecordErased', async () => {
      const out = await erase(gw(H1));
      expect(out).toMatchObject({ recordId, status: 'erased', cid: CID });
      expect(ledger.privateData.get(`_implicit_org_${H1}`)!.has(envelopeKey(recordId))).toBe(false);
      expect(ledger.privateData.get(`_implicit_org_${H2}`)!.has(envelopeKey(recordId))).toBe(true);
      expect(ledger.purged).toEqual([{ collection: `_implicit_org_${H1}`, key: envelopeKey(recordId) }]);
      expect(ledger.lastEvent).toMatchObject({ name: 'RecordErased', payload: { recordId, patientId, custodian: H1, erasedBy: H1, cid: expect.any(String) } });
      expect(await ledger.invoke(gw(H2), (ctx) => c.records.GetRecord(ctx, recordId))).toMatchObject({ status: 'erased' });
      const holders = await ledger.invoke(gw(H2), (ctx) => c.access.ListHolders(ctx, recordId));
      expect(holders).toEqual([expect.objectContaining({ mspId: H2 })]);
    });

    test('the patient at the home hospital', async () => {
      await erase(gw(H2));
      expect(ledger.lastEvent?.payload).toMatchObject({ erasedBy: H2 });
    });

    test('denied: clinicians, another patient, a third hospital, non-gateways; twice is GONE', async () => {
      await rejects(ledger, erase(gw(H1), clinician), 'FORBIDDEN');
      await rejects(ledger, erase(gw(H1), patientActor('p-someone-else')), 'FORBIDDEN');
      await rejects(ledger, erase(gw(H3)), 'FORBIDDEN');
      await rejects(ledger, erase(admin(H1)), 'FORBIDDEN');
      await rejects(ledger, erase(gw(H1), patientActor(patientId), newId()), 'NOT_FOUND');
      await erase(gw(H1));
      await rejects(ledger, erase(gw(H2)), 'GONE');
    });
  });

  test('GetRecord validates and reports NOT_FOUND', async () => {
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.records.GetRecord(ctx, newId())), 'NOT_FOUND');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.records.GetRecord(ctx, 'x')), 'INVALID_ARGUMENT');
  });

  test('LocateRecord names the creating transaction, even after later changes', async () => {
    const recordId = newId();
    await create(gw(H1), { recordId });
    const createTx = ledger.log.at(-1)?.txId;
    ledger.now += 60;
    await ledger.invoke(gw(H1), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
    const located = await ledger.invoke(gw(H2), (ctx) => c.records.LocateRecord(ctx, recordId));
    expect(located).toEqual({ recordId, txId: createTx, timestamp: '2030-01-01T00:00:00.000Z' });
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.records.LocateRecord(ctx, newId())), 'NOT_FOUND');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.records.LocateRecord(ctx, 'x')), 'INVALID_ARGUMENT');
  });
});
