import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Rest, expectProblem, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// A consent with an expiry (DESIGN §4: judged by the transaction timestamp):
// the grantee reads while it holds, is denied once it lapses, and its gateway
// then purges the envelope it was given, visible to the auditor.

const LIFETIME_MS = 25_000;

describe('a consent that expires', () => {
  let rest: Rest;
  const patientId = `Hospital1MSP:e2e-expiry-${randomUUID()}`;
  const document = randomBytes(4_096);
  let recordId = '';
  let expiresAt = 0;

  const asClinician = (n: 1 | 3) => token(n, `dr-expiry-h${n}`, 'clinician');
  const content = async (n: 1 | 3) => rest.call(n, 'GET', `/api/v1/records/${recordId}/content`, { token: await asClinician(n) });

  beforeAll(async () => {
    rest = await Rest.open();
  });

  test('the patient grants hospital 3 a consent that lapses 25 s later, and hospital 3 reads under it', async () => {
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await asClinician(1), json: { patientId } }), 201);
    const stored = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/records?category=note&title=expiry`, {
      token: await asClinician(1),
      body: document,
      headers: { 'content-type': 'application/octet-stream' },
    });
    recordId = expectStatus(stored, 201).recordId;

    expiresAt = Date.now() + LIFETIME_MS;
    const granted = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/consents`, {
      token: await token(1, patientId, 'patient'),
      json: { grantee: rest.mspId(3), purposes: ['treatment'], expiresAt: new Date(expiresAt).toISOString() },
    });
    expect(expectStatus(granted, 201)).toMatchObject({ status: 'active' });

    const read = await eventually(
      'hospital 3 to read under the consent',
      async () => {
        const r = await content(3);
        return r.status === 200 ? r : undefined;
      },
      LIFETIME_MS - 5_000,
      500,
    );
    expect(createHash('sha256').update(read.bytes).digest('hex')).toBe(createHash('sha256').update(document).digest('hex'));
  });

  test('once it lapses hospital 3 is denied, and its gateway purges the envelope', async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt + 1_000 - Date.now())));
    // No basis left: for hospital 3 the record does not exist any more (need-to-know).
    expectProblem(await content(3), 404);
    expect((await content(1)).status).toBe(200); // the custodian is unaffected

    const auditor = await token(1, 'auditor-expiry', 'auditor');
    const purge = await eventually(
      "hospital 3's envelope purge in the record's audit trail",
      async () => {
        const r = await rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: auditor });
        const events = expectStatus<{ type: string; hospital: string; txId: string; timestamp: string }[]>(r, 200);
        return events.find((e) => e.type === 'EnvelopePurged' && e.hospital === rest.mspId(3));
      },
      60_000,
      1_000,
    );
    expect(purge.txId).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(purge.timestamp)).toBeGreaterThanOrEqual(expiresAt);
  });
});
