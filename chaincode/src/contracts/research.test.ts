import { tabulate, type CountedRecord, type Statistics } from '@ehr/ledger-model';
import { FakeLedger } from '../testing/fake-ledger';
import {
  actor, admin, c, clinician, consortium, createRecord, gw, H1, H2, H3, newId, patientActor, registerPatient, rejects, researcher,
} from '../testing/fixtures';

const cell = (s: Statistics, value: string) => s.cells.find((x) => x.value === value);

describe('tabulate: counts and suppression', () => {
  const rec = (patientId: string, category: string, custodian = H1, createdAt = '2030-01-05T00:00:00.000Z'): CountedRecord => ({
    patientId, custodian, category, createdAt,
  });
  const patients = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${H1}:${prefix}-${i}`);

  test('cells count records and distinct patients; zeros are shown', () => {
    const records = [...patients(12, 'a').map((p) => rec(p, 'lab')), rec(`${H1}:a-0`, 'lab')];
    const s = tabulate('category', records, [H1, H2, H3], 10);
    expect(cell(s, 'lab')).toEqual({ value: 'lab', records: 13, patients: 12, suppressed: false });
    expect(cell(s, 'note')).toEqual({ value: 'note', records: 0, patients: 0, suppressed: false });
    expect(s.total).toEqual({ records: 13, patients: 12, suppressed: false });
  });

  test('a cell of fewer than k patients is suppressed, however many records it has', () => {
    const records = [...patients(20, 'a').map((p) => rec(p, 'lab')), ...Array.from({ length: 15 }, () => rec(`${H1}:solo`, 'note'))];
    const s = tabulate('category', records, [H1], 10);
    expect(cell(s, 'note')).toEqual({ value: 'note', records: null, patients: null, suppressed: true });
  });

  test('complementary suppression: one small cell never stands alone beside a published total', () => {
    const records = [
      ...patients(30, 'a').map((p) => rec(p, 'lab')),
      ...patients(12, 'b').map((p) => rec(p, 'imaging')),
      ...patients(3, 'c').map((p) => rec(p, 'prescription')),
    ];
    const s = tabulate('category', records, [H1], 10);
    expect(s.cells.filter((x) => x.suppressed).map((x) => x.value).sort()).toEqual(['imaging', 'prescription']);
    expect(cell(s, 'lab')?.records).toBe(30);
    expect(s.total.records).toBe(45);
  });

  test('no second suppression when the small cells together already hide k patients', () => {
    const records = [
      ...patients(30, 'a').map((p) => rec(p, 'lab')),
      ...patients(6, 'b').map((p) => rec(p, 'note')),
      ...patients(5, 'c').map((p) => rec(p, 'prescription')),
    ];
    const s = tabulate('category', records, [H1], 10);
    expect(s.cells.filter((x) => x.suppressed).map((x) => x.value).sort()).toEqual(['note', 'prescription']);
  });

  test('a small total is suppressed with every cell', () => {
    const s = tabulate('hospital', patients(4, 'a').map((p) => rec(p, 'lab')), [H1, H2], 10);
    expect(s.total).toEqual({ records: null, patients: null, suppressed: true });
    expect(cell(s, H1)?.suppressed).toBe(true);
    expect(cell(s, H2)).toEqual({ value: H2, records: 0, patients: 0, suppressed: false });
  });

  test('months and hospitals per patient', () => {
    const a = patients(10, 'a');
    const records = [
      ...a.map((p) => rec(p, 'lab', H1, '2030-02-01T00:00:00.000Z')),
      ...a.map((p) => rec(p, 'lab', H2, '2030-03-01T00:00:00.000Z')),
    ];
    const months = tabulate('month', records, [H1, H2, H3], 10);
    expect(months.cells.map((x) => [x.value, x.records])).toEqual([['2030-02', 10], ['2030-03', 10]]);
    const spread = tabulate('hospitalsPerPatient', records, [H1, H2, H3], 10);
    expect(spread.cells).toEqual([
      { value: '1', records: 0, patients: 0, suppressed: false },
      { value: '2', records: 20, patients: 10, suppressed: false },
      { value: '3', records: 0, patients: 0, suppressed: false },
    ]);
  });
});

describe('Research contract', () => {
  let ledger: FakeLedger;
  const home = H1;
  let seeded: string[];

  async function ask(dimension: string, k = '10', by = researcher, at = H3) {
    const queryId = newId();
    await ledger.invoke(gw(at), (ctx) => c.research.LogQuery(ctx, queryId, dimension, k, by));
    return (await ledger.invoke(gw(at), (ctx) => c.research.Statistics(ctx, queryId))) as Statistics & { queryId: string };
  }

  beforeAll(async () => {
    ledger = await consortium();
    seeded = [];
    for (let i = 0; i < 11; i++) {
      const patientId = await registerPatient(ledger, home);
      await createRecord(ledger, H1, patientId, home, { category: 'discharge' });
      seeded.push(patientId);
    }
  });

  test('a researcher gets counts; the query is logged first, with who asked what', async () => {
    const s = await ask('category');
    expect(cell(s, 'discharge')).toEqual({ value: 'discharge', records: 11, patients: 11, suppressed: false });
    const log = (await ledger.invoke(gw(H2), (ctx) => c.research.ListQueries(ctx, '100', '', actor('aud', 'auditor')))) as {
      queries: { queryId: string; researcher: string; hospital: string; dimension: string }[];
    };
    expect(log.queries.find((q) => q.queryId === s.queryId)).toMatchObject({ researcher: 'res-1', hospital: H3, dimension: 'category' });
  });

  test('opted-out patients and erased records are left out', async () => {
    await ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, seeded[0], 'true', patientActor(seeded[0])));
    expect(cell(await ask('category'), 'discharge')).toMatchObject({ records: 10, patients: 10 });
    const erased = await createRecord(ledger, H2, seeded[1], home, { category: 'discharge' });
    expect(cell(await ask('category'), 'discharge')).toMatchObject({ records: 11, patients: 10 });
    await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, erased, patientActor(seeded[1])));
    expect(cell(await ask('category'), 'discharge')).toMatchObject({ records: 10, patients: 10 });
    await ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, seeded[2], 'true', patientActor(seeded[2])));
    expect(cell(await ask('category'), 'discharge')?.suppressed).toBe(true);
    await ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, seeded[2], 'false', patientActor(seeded[2])));
    await ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, seeded[0], 'false', patientActor(seeded[0])));
    expect(cell(await ask('category'), 'discharge')).toMatchObject({ records: 11, patients: 11 });
  });

  test('a larger k may be asked for, never a smaller one', async () => {
    expect(cell(await ask('category', '20'), 'discharge')?.suppressed).toBe(true);
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, newId(), 'category', '3', researcher)), 'INVALID_ARGUMENT', /minCellSize/);
  });

  test('only researchers query; only the logging hospital gets the answer, and only soon after', async () => {
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, newId(), 'category', '10', clinician)), 'FORBIDDEN');
    await rejects(ledger, ledger.invoke(admin(H3), (ctx) => c.research.LogQuery(ctx, newId(), 'category', '10', researcher)), 'FORBIDDEN');
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, newId(), 'patientId', '10', researcher)), 'INVALID_ARGUMENT');
    const queryId = newId();
    await ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, queryId, 'hospital', '10', researcher));
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, queryId, 'hospital', '10', researcher)), 'CONFLICT');
    await expect(ledger.invoke(gw(H2), (ctx) => c.research.Statistics(ctx, queryId))).rejects.toThrow(/^NOT_FOUND: /);
    await expect(ledger.invoke(gw(H3), (ctx) => c.research.Statistics(ctx, newId()))).rejects.toThrow(/^NOT_FOUND: /);
    ledger.advance(10 * 60);
    await expect(ledger.invoke(gw(H3), (ctx) => c.research.Statistics(ctx, queryId))).rejects.toThrow(/^FORBIDDEN: .*log a new one/);
  });

  test('the opt-out is set only by the patient through the home hospital, and read only there', async () => {
    const p = seeded[3];
    await rejects(ledger, ledger.invoke(gw(H2), (ctx) => c.research.SetResearchPreference(ctx, p, 'true', patientActor(p))), 'FORBIDDEN');
    await rejects(ledger, ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, p, 'true', clinician)), 'FORBIDDEN');
    await rejects(ledger, ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, p, 'yes', patientActor(p))), 'INVALID_ARGUMENT');
    await ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, p, 'true', patientActor(p)));
    expect(await ledger.invoke(gw(home), (ctx) => c.research.GetResearchPreference(ctx, p, clinician))).toMatchObject({ optedOut: true });
    await expect(ledger.invoke(gw(H2), (ctx) => c.research.GetResearchPreference(ctx, p, clinician))).rejects.toThrow(/^NOT_FOUND: patient .* does not exist/);
    await expect(ledger.invoke(gw(home), (ctx) => c.research.GetResearchPreference(ctx, p, researcher))).rejects.toThrow(/^FORBIDDEN: /);
    await ledger.invoke(gw(home), (ctx) => c.research.SetResearchPreference(ctx, p, 'false', patientActor(p)));
  });

  test('the query log pages with an opaque cursor and is for auditors only', async () => {
    const aud = actor('aud', 'auditor');
    const first = (await ledger.invoke(gw(H1), (ctx) => c.research.ListQueries(ctx, '2', '', aud))) as { queries: { queryId: string }[]; nextCursor: string };
    expect(first.queries).toHaveLength(2);
    const second = (await ledger.invoke(gw(H1), (ctx) => c.research.ListQueries(ctx, '2', first.nextCursor, aud))) as { queries: { queryId: string }[] };
    expect(second.queries[0].queryId).not.toBe(first.queries[1].queryId);
    await expect(ledger.invoke(gw(H1), (ctx) => c.research.ListQueries(ctx, '2', '', researcher))).rejects.toThrow(/^FORBIDDEN: /);
    await expect(ledger.invoke(gw(H1), (ctx) => c.research.ListQueries(ctx, '0', '', aud))).rejects.toThrow(/^INVALID_ARGUMENT: /);
    await expect(ledger.invoke(gw(H1), (ctx) => c.research.ListQueries(ctx, '2', 'junk', aud))).rejects.toThrow(/^INVALID_ARGUMENT: /);
  });
});
