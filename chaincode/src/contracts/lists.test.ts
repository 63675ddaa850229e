import { FakeLedger } from '../testing/fake-ledger';
import {
  auditorId, c, clinician, consortium, createRecord, grant, gw, H1, H2, H3, newId, patientActor, registerPatient, rejects,
} from '../testing/fixtures';

interface Page<T = Record<string, unknown>> {
  items: T[];
  next: string;
}

describe('Lists (paginated)', () => {
  let ledger: FakeLedger;
  let patientId: string;
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H1);
  });

  const recordsPage = (msp: string, limit: string, after = '', purpose = '', pid = patientId) =>
    ledger.invoke(gw(msp), (ctx) => c.lists.RecordsPage(ctx, pid, purpose, limit, after)) as Promise<Page<{ recordId: string; access: string | null }>>;

  /** Follows next until the last page, as a client follows nextCursor. */
  async function all(first: (after: string) => Promise<Page<{ recordId: string }>>) {
    const ids: string[] = [];
    let pages = 0;
    for (let after = ''; ; ) {
      const page = await first(after);
      pages++;
      ids.push(...page.items.map((i) => i.recordId));
      if (page.next === '') return { ids, pages };
      after = page.next;
    }
  }

  test('records come in key order, a page at a time, each exactly once; the last page says so', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await createRecord(ledger, H1, patientId, H1));
    const { ids: seen, pages } = await all((after) => recordsPage(H1, '3', after));
    expect(seen).toEqual([...ids].sort());
    expect(pages).toBe(3);
    const exact = await all((after) => recordsPage(H1, '7', after));
    expect(exact.pages).toBe(1);
  });

  test('a page reads O(page) rows, however many records the patient and the ledger hold', async () => {
    for (let i = 0; i < 30; i++) await createRecord(ledger, H1, patientId, H1);
    const other = await registerPatient(ledger, H1);
    for (let i = 0; i < 30; i++) await createRecord(ledger, H1, other, H1);
    ledger.paginatedRowsRead = 0;
    const page = await recordsPage(H1, '5', '');
    expect(page.items).toHaveLength(5);
    // One chunk of the patient's own index, never the other patient's rows.
    expect(ledger.paginatedRowsRead).toBeLessThanOrEqual(30);
    ledger.paginatedRowsRead = 0;
    await recordsPage(H1, '5', page.next);
    expect(ledger.paginatedRowsRead).toBeLessThanOrEqual(30);
  });

  test('a page reads the same rows whether the ledger holds 1k or 10k records (the list-scale argument, on the fake peer)', async () => {
    // Records written straight into state (as committed CreateRecords leave them), all of one
    // big patient, so the ledger and the patient grow together; a small patient has 10.
    const big = await registerPatient(ledger, H1);
    const small = await registerPatient(ledger, H1);
    for (let i = 0; i < 10; i++) await createRecord(ledger, H1, small, H1);
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v));
    let held = 0;
    const grow = (to: number) => {
      for (; held < to; held++) {
        const i = held;
        const recordId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
        ledger.state.set(`\u0000record\u0000${recordId}\u0000`, enc({ patientId: big, custodian: H1, cid: `bafk${i}`, size: 1, category: 'lab', supersedes: null, status: 'active', createdAt: '2030-01-01T00:00:00.000Z', createdBy: 'dr' }));
        ledger.state.set(`\u0000patient~record\u0000${big}\u0000${recordId}\u0000`, Uint8Array.of(0));
      }
    };
    const rowsFor = async (pid: string) => {
      ledger.paginatedRowsRead = 0;
      const first = await recordsPage(H1, '50', '', '', pid);
      const firstRows = ledger.paginatedRowsRead;
      ledger.paginatedRowsRead = 0;
      if (first.next) await recordsPage(H1, '50', first.next, '', pid);
      return [firstRows, ledger.paginatedRowsRead];
    };
    grow(1_000);
    const at1k = { big: await rowsFor(big), small: await rowsFor(small) };
    grow(10_000);
    const at10k = { big: await rowsFor(big), small: await rowsFor(small) };
    expect(at10k).toEqual(at1k);
    expect(at1k.small).toEqual([10, 0]);
    for (const rows of at1k.big) expect(rows).toBeLessThanOrEqual(2 * 64);
  });

  test('every query a list opens is closed, also when the walk stops before the index ends', async () => {
    for (let i = 0; i < 7; i++) await createRecord(ledger, H1, patientId, H1);
    // H2 is custodian of several: its standing is settled at the first of them, rows remaining.
    for (let i = 0; i < 3; i++) await createRecord(ledger, H2, patientId, H1);
    for (let i = 0; i < 2; i++) {
      const requestId = newId();
      await ledger.invoke(gw(H2), (ctx) => c.requests.CreateRequest(ctx, requestId, patientId, 'treatment', '', 'referral', clinician));
    }
    ledger.openIterators = 0;
    const first = await recordsPage(H1, '3');
    expect(first.next).not.toBe('');
    expect(ledger.openIterators).toBe(0);
    expect((await recordsPage(H2, '1')).next).not.toBe('');
    expect(ledger.openIterators).toBe(0);
    await ledger.invoke(gw(H2), (ctx) => c.lists.RequestsPage(ctx, patientId, '1', ''));
    expect(ledger.openIterators).toBe(0);
  });

  test('need-to-know per item: a custodian sees its own records, a grantee what its consent covers, others nothing', async () => {
    const own = await createRecord(ledger, H2, patientId, H1, { category: 'lab' });
    const homeOnly = await createRecord(ledger, H1, patientId, H1, { category: 'imaging' });
    const h2 = await all((after) => recordsPage(H2, '1', after));
    expect(h2.ids).toEqual([own]);
    await rejects(ledger, recordsPage(H3, '10'), 'NOT_FOUND', /does not exist/);
    const consentId = await grant(ledger, H1, patientId, H3, { scope: '{"categories":["imaging"]}' });
    expect((await all((after) => recordsPage(H3, '10', after))).ids).toEqual([homeOnly]);
    const forTreatment = await recordsPage(H3, '10', '', 'treatment');
    expect(forTreatment.items.map((i) => [i.recordId, i.access])).toEqual([[homeOnly, consentId]]);
    expect((await recordsPage(H3, '10', '', 'research')).items).toEqual([]);
  });

  test('an unknown patient and a patient without basis answer alike', async () => {
    await rejects(ledger, recordsPage(H2, '10', '', '', 'p-nobody-1'), 'NOT_FOUND', /does not exist/);
    await rejects(ledger, recordsPage(H2, '10'), 'NOT_FOUND', /does not exist/);
  });

  test('bad limits and positions outside the patient\'s index are refused', async () => {
    const other = await registerPatient(ledger, H1);
    const foreign = await createRecord(ledger, H1, other, H1);
    await createRecord(ledger, H1, patientId, H1);
    for (const limit of ['0', '201', '-1', '1.5', 'ten', '', '0010']) await rejects(ledger, recordsPage(H1, limit), 'INVALID_ARGUMENT', /limit/);
    const otherKey = `\u0000patient~record\u0000${other}\u0000${foreign}\u0000`;
    await rejects(ledger, recordsPage(H1, '10', otherKey), 'INVALID_ARGUMENT', /cursor/);
    // A position before this patient's range would make the peer read other keys.
    await rejects(ledger, recordsPage(H1, '10', '\u0000patient~record\u0000'), 'INVALID_ARGUMENT', /cursor/);
    await rejects(ledger, recordsPage(H1, '10', 'garbage'), 'INVALID_ARGUMENT', /cursor/);
  });

  test('consents: all for the home hospital and custodians, its own for a grantee', async () => {
    await createRecord(ledger, H2, patientId, H1);
    const toH2 = await grant(ledger, H1, patientId, H2);
    const toH3 = [await grant(ledger, H1, patientId, H3), await grant(ledger, H1, patientId, H3, { purposes: '["research"]' })];
    const consents = (msp: string, limit: string, after = '') =>
      ledger.invoke(gw(msp), (ctx) => c.lists.ConsentsPage(ctx, patientId, limit, after)) as Promise<Page<{ consentId: string }>>;
    const follow = async (msp: string) => {
      const out: string[] = [];
      for (let after = ''; ; ) {
        const page = await consents(msp, '1', after);
        out.push(...page.items.map((i) => i.consentId));
        if (!page.next) return out.sort();
        after = page.next;
      }
    };
    expect(await follow(H1)).toEqual([toH2, ...toH3].sort());
    expect(await follow(H2)).toEqual([toH2, ...toH3].sort());
    expect(await follow(H3)).toEqual([...toH3].sort());
  });

  test('access requests: all for the home hospital, a requester its own, others nothing', async () => {
    const ask = (msp: string) => {
      const requestId = newId();
      return ledger
        .invoke(gw(msp), (ctx) => c.requests.CreateRequest(ctx, requestId, patientId, 'treatment', '', 'referral', clinician))
        .then(() => requestId);
    };
    const fromH2 = await ask(H2);
    const fromH3 = [await ask(H3), await ask(H3)];
    const requests = (msp: string, after = '') =>
      ledger.invoke(gw(msp), (ctx) => c.lists.RequestsPage(ctx, patientId, '2', after)) as Promise<Page<{ requestId: string }>>;
    const first = await requests(H1);
    expect(first.items).toHaveLength(2);
    const second = await requests(H1, first.next);
    expect(second.next).toBe('');
    expect([...first.items, ...second.items].map((r) => r.requestId).sort()).toEqual([fromH2, ...fromH3].sort());
    expect((await requests(H2)).items.map((r) => r.requestId)).toEqual([fromH2]);
    const other = await registerPatient(ledger, H1);
    await rejects(ledger, ledger.invoke(gw(H2), (ctx) => c.lists.RequestsPage(ctx, other, '2', '')), 'NOT_FOUND', /does not exist/);
  });

  test('audit trails come a page at a time, oldest first, each entry once', async () => {
    const recordId = await createRecord(ledger, H1, patientId, H1);
    await grant(ledger, H1, patientId, H2);
    await createRecord(ledger, H1, patientId, H1);
    const whole = (await ledger.invoke(auditorId(H1), (ctx) => c.audit.PatientHistory(ctx, patientId, clinician))) as { entries: unknown[] };
    const seen: { timestamp: string }[] = [];
    for (let after = ''; ; ) {
      const page = (await ledger.invoke(auditorId(H1), (ctx) => c.lists.PatientHistoryPage(ctx, patientId, clinician, '2', after))) as Page<{ timestamp: string }>;
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      if (!page.next) break;
      after = page.next;
    }
    expect(seen).toHaveLength(whole.entries.length);
    expect(seen.map((e) => e.timestamp)).toEqual([...seen.map((e) => e.timestamp)].sort());
    const rec = (await ledger.invoke(gw(H1), (ctx) => c.lists.RecordHistoryPage(ctx, recordId, patientActor(patientId), '200', ''))) as Page & { patientId: string };
    expect(rec.patientId).toBe(patientId);
    expect(rec.next).toBe('');
    // The creation before the envelopes stored in the same transaction (as the whole trail has it).
    const actions = (rec.items as { action: string; txId: string }[]).map((e) => e.action);
    expect(actions[0]).toBe('RecordCreated');
    expect(actions.indexOf('EnvelopeDelivered')).toBeGreaterThan(0);
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.lists.RecordHistoryPage(ctx, recordId, patientActor(patientId), '10', '')), 'NOT_FOUND');
  });
});
