import { randomBytes, randomUUID } from 'node:crypto';
import { Rest, expectProblem, expectStatus, token, type Role } from '../support/rest.js';

// Research statistics on a real network (issue 14): a researcher's counts come from ledger
// metadata, small cells are suppressed, opted-out patients and erased records are left out,
// every query is logged before it is answered, and no other role gets an answer.
//
// Counts are global and other suites share this network, so the assertions hold whatever
// they stored: exact deltas of the total (always published once this suite has seeded more
// than k patients) and of cells published both before and after (discharge and other: from
// zero while no other suite stores them). The small cell is prescription, which no other
// suite may store (3 patients of this suite; the suppression test says so if one does).
// Suites run one at a time (--runInBand), so nothing else writes between two measurements.

interface Cell {
  value: string;
  records: number | null;
  patients: number | null;
  suppressed: boolean;
}
interface Stats {
  queryId: string;
  dimension: string;
  minCellSize: number;
  cells: Cell[];
  total: { records: number | null; patients: number | null; suppressed: boolean };
  txId: string;
}
type Dimension = 'category' | 'hospital' | 'month' | 'hospitalsPerPatient';

const K = 10;
const GROUP_A = 12; // at home at hospital 1: a discharge record there and an "other" record at hospital 2
const GROUP_B = 3; // at home at hospital 3: a prescription record there (a cell below k)

describe('research statistics', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const groupA = Array.from({ length: GROUP_A }, (_, i) => `Hospital1MSP:e2e-research-${run}-a${i}`);
  const groupB = Array.from({ length: GROUP_B }, (_, i) => `Hospital3MSP:e2e-research-${run}-b${i}`);
  const clinician = (n: number) => token(n, `dr-e2e-research-h${n}`, 'clinician');
  const researcher = () => token(3, 'res-e2e-research', 'researcher');
  const auditor = () => token(2, 'aud-e2e-research', 'auditor');
  const asked: { queryId: string; dimension: string }[] = [];
  const before = new Map<Dimension, Stats>();
  const after = new Map<Dimension, Stats>();
  let month = '';
  const prescriptions = new Map<string, string>();

  async function stats(dimension: Dimension): Promise<Stats> {
    const s = expectStatus<Stats>(await rest.call(3, 'GET', `/api/v1/research/statistics?dimension=${dimension}`, { token: await researcher() }), 200);
    expect(s.dimension).toBe(dimension);
    expect(s.minCellSize).toBe(K);
    asked.push({ queryId: s.queryId, dimension });
    // What every answer must satisfy, whoever else stored records.
    for (const c of s.cells) {
      if (c.suppressed) expect(c).toEqual({ value: c.value, records: null, patients: null, suppressed: true });
      else expect(c.patients === 0 || (c.patients ?? 0) >= K).toBe(true);
    }
    if (!s.total.suppressed) {
      const hidden = s.cells.filter((c) => c.suppressed);
      // One suppressed cell beside a published total could be derived from it: never.
      expect(hidden.length === 0 || hidden.length >= 2).toBe(true);
      const published = s.cells.reduce((sum, c) => sum + (c.records ?? 0), 0);
      if (hidden.length === 0 && s.dimension !== 'hospitalsPerPatient') expect(published).toBe(s.total.records);
    }
    return s;
  }

  const cell = (s: Stats, value: string): Cell => {
    const c = s.cells.find((x) => x.value === value);
    expect(c).toBeDefined();
    return c!;
  };

  /** Asserts the change of a cell where both answers publish it (returns whether it could). */
  function expectDelta(from: Cell, to: Cell, records: number, patients: number): boolean {
    if (from.suppressed || to.suppressed) return false;
    expect([to.records! - from.records!, to.patients! - from.patients!]).toEqual([records, patients]);
    return true;
  }

  async function store(n: number, patientId: string, category: string): Promise<{ recordId: string; createdAt: string }> {
    return expectStatus(
      await rest.call(n, 'POST', `/api/v1/patients/${patientId}/records?category=${category}`, {
        token: await clinician(n),
        body: randomBytes(512),
        headers: { 'content-type': 'application/octet-stream' },
      }),
      201,
    );
  }

  async function queryLog(): Promise<{ queryId: string; researcher: string; hospital: string; dimension: string }[]> {
    const out = [];
    let cursor: string | null = null;
    do {
      const page: { queries: { queryId: string; researcher: string; hospital: string; dimension: string }[]; nextCursor: string | null } = expectStatus(
        await rest.call(2, 'GET', `/api/v1/audit/research-queries?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: await auditor() }),
        200,
      );
      out.push(...page.queries);
      cursor = page.nextCursor;
    } while (cursor);
    return out;
  }

  const DIMENSIONS: Dimension[] = ['category', 'hospital', 'month', 'hospitalsPerPatient'];

  beforeAll(async () => {
    rest = await Rest.open();
    for (const d of DIMENSIONS) before.set(d, await stats(d));
    const register = async (n: number, patientId: string) =>
      expectStatus(await rest.call(n, 'POST', '/api/v1/patients', { token: await clinician(n), json: { patientId } }), 201);
    // A few at a time: independent keys, so concurrent submits do not collide.
    for (let i = 0; i < groupA.length; i += 4) {
      await Promise.all(
        groupA.slice(i, i + 4).map(async (p) => {
          await register(1, p);
          month = (await store(1, p, 'discharge')).createdAt.slice(0, 7);
          await store(2, p, 'other');
        }),
      );
    }
    await Promise.all(
      groupB.map(async (p) => {
        await register(3, p);
        prescriptions.set(p, (await store(3, p, 'prescription')).recordId);
      }),
    );
    for (const d of DIMENSIONS) after.set(d, await stats(d));
  });

  test('counts are correct: exact where only this suite stores, deltas elsewhere', () => {
    const [c0, c1] = [before.get('category')!, after.get('category')!];
    // 12 patients each: published unless chosen for complementary suppression, and then only one of them.
    const published = ['discharge', 'other'].filter((v) => !cell(c1, v).suppressed);
    expect(published.length).toBeGreaterThanOrEqual(1);
    // Exact from zero when no other suite stores these categories; a delta otherwise.
    for (const v of published) {
      if (!cell(c0, v).suppressed) expectDelta(cell(c0, v), cell(c1, v), GROUP_A, GROUP_A);
    }
    for (const d of DIMENSIONS) {
      const [s0, s1] = [before.get(d)!, after.get(d)!];
      expect(s1.total.suppressed).toBe(false);
      if (!s0.total.suppressed) {
        expect([s1.total.records! - s0.total.records!, s1.total.patients! - s0.total.patients!]).toEqual([2 * GROUP_A + GROUP_B, GROUP_A + GROUP_B]);
      } else {
        expect(s1.total.records).toBeGreaterThanOrEqual(2 * GROUP_A + GROUP_B);
      }
    }
    const [h0, h1] = [before.get('hospital')!, after.get('hospital')!];
    expectDelta(cell(h0, 'Hospital1MSP'), cell(h1, 'Hospital1MSP'), GROUP_A, GROUP_A);
    expectDelta(cell(h0, 'Hospital3MSP'), cell(h1, 'Hospital3MSP'), GROUP_B, GROUP_B);
    const [s0, s1] = [before.get('hospitalsPerPatient')!, after.get('hospitalsPerPatient')!];
    expect(s1.cells.map((c) => c.value)).toEqual(['1', '2', '3']);
    expectDelta(cell(s0, '2'), cell(s1, '2'), 2 * GROUP_A, GROUP_A);
    const m1 = after.get('month')!;
    const m0 = before.get('month')!.cells.find((c) => c.value === month);
    if (m0) expectDelta(m0, cell(m1, month), 2 * GROUP_A + GROUP_B, GROUP_A + GROUP_B);
    else expect(cell(m1, month).suppressed || (cell(m1, month).records ?? 0) >= 2 * GROUP_A + GROUP_B).toBe(true);
  });

  /** Prescription holds only this suite's 3 patients when no other suite stored one before it. */
  const prescriptionOnlyOurs = () => {
    const c = cell(before.get('category')!, 'prescription');
    return !c.suppressed && c.patients === 0;
  };

  test('a cell of fewer than k patients is suppressed, and so is a second one beside it', () => {
    const s = after.get('category')!;
    expect(prescriptionOnlyOurs()).toBe(true); // this suite's small cell: no other suite may store prescriptions
    expect(cell(s, 'prescription')).toEqual({ value: 'prescription', records: null, patients: null, suppressed: true });
    expect(s.cells.filter((c) => c.suppressed).length).toBeGreaterThanOrEqual(2);
  });

  test('an opted-out patient is counted nowhere, and counted again after opting back in', async () => {
    const [p] = groupA;
    const prefPath = `/api/v1/patients/${p}/research-preference`;
    const patient = await token(1, p, 'patient');
    expectProblem(await rest.call(2, 'PUT', prefPath, { token: await token(2, p, 'patient'), json: { optOut: true } }), 404);
    expectProblem(await rest.call(1, 'PUT', prefPath, { token: await clinician(1), json: { optOut: true } }), 403);
    expectProblem(await rest.call(1, 'PUT', prefPath, { token: patient, json: { optOut: 'yes' } }), 400);
    // None of the refusals wrote anything: the patient never chose.
    expect(expectStatus(await rest.call(1, 'GET', prefPath, { token: await clinician(1) }), 200)).toEqual({ patientId: p, optedOut: false, setAt: null });

    expect(expectStatus(await rest.call(1, 'PUT', prefPath, { token: patient, json: { optOut: true } }), 200)).toMatchObject({ patientId: p, optedOut: true });
    expect(expectStatus(await rest.call(1, 'GET', prefPath, { token: patient }), 200)).toMatchObject({ optedOut: true });
    for (const d of DIMENSIONS) {
      const s = await stats(d);
      const base = after.get(d)!;
      expect([base.total.records! - s.total.records!, base.total.patients! - s.total.patients!]).toEqual([2, 1]);
    }
    const category = await stats('category');
    for (const v of ['discharge', 'other']) expectDelta(cell(after.get('category')!, v), cell(category, v), -1, -1);

    expectStatus(await rest.call(1, 'PUT', prefPath, { token: patient, json: { optOut: false } }), 200);
    const back = await stats('category');
    expect(back.total).toEqual(after.get('category')!.total);
  });

  test('an erased record is no longer counted', async () => {
    const [p] = groupB;
    expectStatus(await rest.call(3, 'DELETE', `/api/v1/records/${prescriptions.get(p)}`, { token: await token(3, p, 'patient') }), 200);
    const s = await stats('category');
    const base = after.get('category')!;
    expect([base.total.records! - s.total.records!, base.total.patients! - s.total.patients!]).toEqual([1, 1]);
    expect(cell(s, 'prescription').suppressed).toBe(true);
  });

  test('only researchers get statistics, and a refusal logs nothing', async () => {
    const logged = (await queryLog()).length;
    const refused: Role[] = ['clinician', 'patient', 'auditor', 'admin'];
    for (const role of refused) {
      const sub = role === 'patient' ? groupB[1] : `e2e-research-${role}`;
      const p = expectProblem(await rest.call(3, 'GET', '/api/v1/research/statistics?dimension=category', { token: await token(3, sub, role) }), 403);
      expect(p.detail).toMatch(/researcher/);
    }
    expectProblem(await rest.call(3, 'GET', '/api/v1/research/statistics?dimension=category'), 401);
    expectProblem(await rest.call(2, 'GET', '/api/v1/audit/research-queries', { token: await researcher() }), 401); // hospital 3's token at hospital 2
    expectProblem(await rest.call(3, 'GET', '/api/v1/audit/research-queries', { token: await researcher() }), 403);
    expect((await queryLog()).length).toBe(logged);
  });

  test('bad input is a 400 problem and logs nothing', async () => {
    const logged = (await queryLog()).length;
    for (const q of ['dimension=patientId', 'dimension=', '', 'dimension=category&dimension=hospital']) {
      expectProblem(await rest.call(3, 'GET', `/api/v1/research/statistics?${q}`, { token: await researcher() }), 400);
    }
    expectProblem(await rest.call(2, 'GET', '/api/v1/audit/research-queries?limit=1000', { token: await auditor() }), 400);
    expectProblem(await rest.call(2, 'GET', '/api/v1/audit/research-queries?cursor=%7B%7D', { token: await auditor() }), 400);
    expect((await queryLog()).length).toBe(logged);
  });

  test('every answered query is in the log auditors read, with who asked what', async () => {
    const log = await queryLog();
    expect(asked.length).toBeGreaterThanOrEqual(2 * DIMENSIONS.length);
    for (const { queryId, dimension } of asked) {
      expect(log.find((q) => q.queryId === queryId)).toMatchObject({ researcher: 'res-e2e-research', hospital: 'Hospital3MSP', dimension });
    }
  });
});
