import { randomUUID } from 'node:crypto';
import { connectAs, type Connection } from '../support/fabric.js';
import { hospital, status } from '../support/instance.js';
import { Rest, expectProblem, expectStatus, token, type Reply } from '../support/rest.js';

// Paginated lists (DESIGN §9) across three hospitals on a real network: every page of a
// list answers only what the caller's hospital may know, following Link rel="next" visits
// each visible item exactly once, and bad limits or forged cursors are 400 problems. The
// chaincode enforces it too, asked directly as a hospital's gateway identity (a member
// running modified gateway software).

const utf8 = new TextDecoder();

describe('paginated lists across hospitals', () => {
  let rest: Rest;
  let direct: Connection;
  const run = randomUUID().slice(0, 8);
  const patientId = `Hospital1MSP:e2e-page-${run}`;
  const otherPatient = `Hospital1MSP:e2e-page-other-${run}`;
  const clinician = (n: number) => token(n, `dr-e2e-page-h${n}`, 'clinician');
  const patient = () => token(1, patientId, 'patient');
  const auditor = () => token(1, `aud-e2e-page-${run}`, 'auditor');
  const atHome: string[] = [];
  const atH2: string[] = [];
  const imaging: string[] = [];
  let otherRecord = '';

  /** Store one small document for a patient through hospital n's gateway; its record ID. */
  async function store(n: number, pid: string, category: string): Promise<string> {
    const r = await rest.call(n, 'POST', `/api/v1/patients/${pid}/records?category=${category}`, {
      token: await clinician(n),
      body: `e2e pagination ${category} ${randomUUID()}`,
      headers: { 'content-type': 'text/plain' },
    });
    return expectStatus(r, 201).recordId as string;
  }

  /** Follows Link rel="next" from path; every page answered 200 with an array of at most limit items. */
  async function follow(n: number, path: string, tok: string, limit: number) {
    const items: Record<string, unknown>[] = [];
    let next: string | undefined = `${path}${path.includes('?') ? '&' : '?'}limit=${limit}`;
    let pages = 0;
    while (next) {
      const r: Reply = await rest.call(n, 'GET', next, { token: tok });
      const body = expectStatus(r, 200);
      expect(Array.isArray(body)).toBe(true);
      expect(body.length).toBeLessThanOrEqual(limit);
      items.push(...body);
      const link: string | null = r.headers.get('link');
      next = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
      if (link) expect(next).toBeDefined();
      pages++;
      expect(pages).toBeLessThan(50);
    }
    return { items, pages };
  }

  const ids = (items: Record<string, unknown>[], field = 'recordId') => items.map((i) => i[field] as string);
  const cursorFor = (list: string, subject: string, after: string) => Buffer.from(JSON.stringify([1, list, subject, after])).toString('base64url');
  const indexKey = (pid: string, recordId: string) => `\u0000patient~record\u0000${pid}\u0000${recordId}\u0000`;

  beforeAll(async () => {
    rest = await Rest.open();
    direct = connectAs(hospital(await status(), 3));
    for (const pid of [patientId, otherPatient]) {
      expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId: pid } }), 201);
    }
    for (const category of ['imaging', 'lab', 'imaging', 'note']) {
      const id = await store(1, patientId, category);
      atHome.push(id);
      if (category === 'imaging') imaging.push(id);
    }
    for (let i = 0; i < 3; i++) atH2.push(await store(2, patientId, 'lab'));
    otherRecord = await store(1, otherPatient, 'lab');
  });

  afterAll(() => direct?.close());

  test('the home hospital pages through every record once; the last page has no Link', async () => {
    const all = [...atHome, ...atH2].sort();
    const byThree = await follow(1, `/api/v1/patients/${patientId}/records`, await clinician(1), 3);
    expect(ids(byThree.items).sort()).toEqual(all);
    expect(new Set(ids(byThree.items)).size).toBe(all.length);
    expect(byThree.pages).toBe(3);
    const whole = await follow(1, `/api/v1/patients/${patientId}/records`, await clinician(1), all.length);
    expect(whole.pages).toBe(1);
    const asPatient = await follow(1, `/api/v1/patients/${patientId}/records`, await patient(), 2);
    expect(ids(asPatient.items).sort()).toEqual(all);
    // A client that never heard of pagination still gets the array (the first page, default 50).
    const plain = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: await clinician(1) }), 200);
    expect(ids(plain).sort()).toEqual(all);
  });

  test('a custodian pages through its own records only; a hospital without basis gets the 404 of an unknown patient', async () => {
    const h2 = await follow(2, `/api/v1/patients/${patientId}/records`, await clinician(2), 2);
    expect(ids(h2.items).sort()).toEqual([...atH2].sort());
    expect(h2.pages).toBe(2);
    const none = expectProblem(await rest.call(3, 'GET', `/api/v1/patients/${patientId}/records?limit=2`, { token: await clinician(3) }), 404);
    const unknown = expectProblem(await rest.call(3, 'GET', `/api/v1/patients/Hospital1MSP:e2e-page-nobody-${run}/records?limit=2`, { token: await clinician(3) }), 404);
    expect(none.title).toBe(unknown.title);
  });

  test('a grantee pages through what its consent covers, and a forged cursor shows it nothing more', async () => {
    const consent = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/consents`, {
      token: await patient(),
      json: { grantee: rest.mspId(3), scope: { categories: ['imaging'] }, purposes: ['treatment'] },
    });
    expectStatus(consent, 201);
    const h3 = await follow(3, `/api/v1/patients/${patientId}/records`, await clinician(3), 1);
    expect(ids(h3.items).sort()).toEqual([...imaging].sort());
    expect(h3.pages).toBe(imaging.length);
    // A position just before each record the grantee may not see: the page still holds only covered ones.
    for (const hidden of [...atHome, ...atH2].filter((id) => !imaging.includes(id))) {
      const before = indexKey(patientId, hidden).slice(0, -2);
      const r = await rest.call(3, 'GET', `/api/v1/patients/${patientId}/records?limit=200&cursor=${cursorFor('records', patientId, before)}`, {
        token: await clinician(3),
      });
      for (const id of ids(expectStatus(r, 200))) expect(imaging).toContain(id);
    }
  });

  test('bad limits, garbled, foreign and forged cursors are 400 problems', async () => {
    const path = `/api/v1/patients/${patientId}/records`;
    for (const limit of ['0', '201', '-1', 'abc', '2.5']) {
      const p = expectProblem(await rest.call(1, 'GET', `${path}?limit=${limit}`, { token: await clinician(1) }), 400);
      expect(JSON.stringify(p.errors)).toContain('query.limit');
    }
    const first = await rest.call(1, 'GET', `${path}?limit=1`, { token: await clinician(1) });
    const cursor = new URL(`http://x${/^<([^>]+)>/.exec(first.headers.get('link') ?? '')?.[1]}`).searchParams.get('cursor') as string;
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    for (const [p, bad] of [
      [path, 'not*a*cursor'],
      [path, Buffer.from('{"after":"x"}').toString('base64url')],
      [`/api/v1/patients/${patientId}/consents`, cursor],
      [`/api/v1/patients/${otherPatient}/records`, cursor],
      // A position inside another patient's index, or before this patient's range: the chaincode refuses it.
      [path, cursorFor('records', patientId, indexKey(otherPatient, otherRecord))],
      [path, cursorFor('records', patientId, '\u0000patient~record\u0000')],
    ]) {
      expectProblem(await rest.call(1, 'GET', `${p}?cursor=${bad}`, { token: await clinician(1) }), 400);
    }
  });

  test('the chaincode itself (asked by a member\'s gateway identity, no REST gateway) pages with need-to-know and refuses forged positions', async () => {
    const contract = direct.gateway.getNetwork(rest.instance.channel).getContract(rest.instance.chaincode.name);
    const page = async (...args: string[]) => JSON.parse(utf8.decode(await contract.evaluateTransaction('Lists:RecordsPage', ...args)));
    const all = await page(patientId, '', '200', '');
    expect(all.next).toBe('');
    expect(ids(all.items).sort()).toEqual([...imaging].sort());
    await expect(page(patientId, '', '200', indexKey(otherPatient, otherRecord))).rejects.toThrow(/INVALID_ARGUMENT/);
    await expect(page(patientId, '', '1000', '')).rejects.toThrow(/INVALID_ARGUMENT/);
    await expect(page(otherPatient, '', '10', '')).rejects.toThrow(/NOT_FOUND/);
  });

  test('consents and access requests page too, each hospital seeing what it may', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/consents`, {
        token: await patient(),
        json: { grantee: rest.mspId(2), purposes: ['treatment'] },
      });
      expectStatus(r, 201);
    }
    const consents = await follow(1, `/api/v1/patients/${patientId}/consents`, await patient(), 1);
    expect(consents.items).toHaveLength(3);
    expect(new Set(ids(consents.items, 'consentId')).size).toBe(3);
    const h3 = await follow(3, `/api/v1/patients/${patientId}/consents`, await clinician(3), 1);
    expect(h3.items.map((c) => c.grantee)).toEqual([rest.mspId(3)]);

    const asked: Record<number, string[]> = { 2: [], 3: [] };
    for (const n of [2, 3, 3]) {
      const r = await rest.call(n, 'POST', '/api/v1/access-requests', { token: await clinician(n), json: { patientId, purpose: 'research', reason: 'other' } });
      asked[n].push(expectStatus(r, 201).requestId);
    }
    const all = await follow(1, `/api/v1/patients/${patientId}/access-requests`, await patient(), 1);
    expect(ids(all.items, 'requestId').sort()).toEqual([...asked[2], ...asked[3]].sort());
    const mine = await follow(3, `/api/v1/patients/${patientId}/access-requests`, await clinician(3), 1);
    expect(ids(mine.items, 'requestId').sort()).toEqual([...asked[3]].sort());
  });

  test('audit trails page oldest first, each event once, the same events as one big page', async () => {
    const path = `/api/v1/audit/patients/${patientId}`;
    const whole = await follow(1, path, await auditor(), 200);
    expect(whole.pages).toBe(1);
    const paged = await follow(1, path, await auditor(), 4);
    expect(paged.items).toEqual(whole.items);
    expect(paged.pages).toBeGreaterThanOrEqual(Math.ceil(whole.items.length / 4));
    const times = paged.items.map((e) => e.timestamp as string);
    expect(times).toEqual([...times].sort());
    const record = await follow(1, `/api/v1/audit/records/${imaging[0]}`, await auditor(), 1);
    expect(record.items.length).toBeGreaterThanOrEqual(2);
    expect(record.items.every((e) => e.recordId === imaging[0] || e.consentId)).toBe(true);
  });
});
