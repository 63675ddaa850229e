import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { hospital, network, status } from '../support/instance.js';
import { Rest, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// DESIGN §4: a hospital's encryption key can be rotated by its admin. After
// `network.sh rotate-key`, the ledger names the new key, new envelopes are
// wrapped to it, and everything wrapped to the old key still opens, at the
// hospital itself and for a hospital it delivers to afterwards.

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('rotating a hospital encryption key', () => {
  let rest: Rest;
  const patientId = `Hospital1MSP:e2e-rotation-${randomUUID()}`;
  const before = randomBytes(8_192);
  const after = randomBytes(8_192);
  let beforeId = '';
  let afterId = '';
  let oldKey = '';

  const asClinician = (n: 1 | 2) => token(n, `dr-rotation-h${n}`, 'clinician');
  const ledgerKey = async () => {
    const r = await rest.call(1, 'GET', '/api/v1/hospitals', { token: await asClinician(1) });
    return expectStatus<{ mspId: string; publicKey: string }[]>(r, 200).find((h) => h.mspId === rest.mspId(1))!.publicKey;
  };
  const store = async (bytes: Buffer) => {
    const r = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/records?category=note&title=rotation`, {
      token: await asClinician(1),
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    return expectStatus(r, 201).recordId as string;
  };
  const read = async (n: 1 | 2, recordId: string) =>
    rest.call(n, 'GET', `/api/v1/records/${recordId}/content`, { token: await asClinician(n) });

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await asClinician(1), json: { patientId } }), 201);
    beforeId = await store(before);
    oldKey = await ledgerKey();
  });

  test('rotate-key puts a new key on the ledger and keeps the old private key 0600', async () => {
    const secrets = path.join(hospital(await status(), 1).stateDir, 'secrets');
    const previousKeys = () => readdirSync(secrets).filter((f) => /^encryption\..+\.key$/.test(f));
    const keptBefore = previousKeys();
    await network('rotate-key', 'hospital1');
    const kept = previousKeys().filter((f) => !keptBefore.includes(f));
    expect(kept).toHaveLength(1);
    expect(statSync(path.join(secrets, kept[0])).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(secrets, 'encryption.key')).mode & 0o777).toBe(0o600);
    expect(await ledgerKey()).not.toBe(oldKey);
  });

  test('the document stored before the rotation still opens at its custodian', async () => {
    const r = await read(1, beforeId);
    expect(r.status).toBe(200);
    expect(sha256(r.bytes)).toBe(sha256(before));
  });

  test('a document stored after the rotation opens too', async () => {
    afterId = await store(after);
    const r = await read(1, afterId);
    expect(r.status).toBe(200);
    expect(sha256(r.bytes)).toBe(sha256(after));
  });

  test('a hospital granted access afterwards receives and opens both', async () => {
    const granted = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/consents`, {
      token: await token(1, patientId, 'patient'),
      json: { grantee: rest.mspId(2), purposes: ['treatment'] },
    });
    expectStatus(granted, 201);
    for (const [id, bytes] of [
      [beforeId, before],
      [afterId, after],
    ] as const) {
      const r = await eventually(`hospital 2 to read ${id}`, async () => {
        const attempt = await read(2, id);
        return attempt.status === 200 ? attempt : undefined;
      });
      expect(sha256(r.bytes)).toBe(sha256(bytes));
    }
  });
});
