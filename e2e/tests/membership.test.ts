import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { keepLogs } from '../support/keep-logs.mjs';
import { networkOn, statusOf, type InstanceRef } from '../support/instance.js';
import { Rest, expectStatus, tokenOn, type Role } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Membership changes (DESIGN §9): a three-hospital consortium takes in a fourth
// while it serves, and lets it go again. This suite changes the consortium
// itself, so it runs on an instance of its own, not the one the other suites share.
// Each step is a whole admin operation on a busy two-core machine: generous limits.
const SLOW = 600_000;

const target: InstanceRef = {
  name: process.env.EHR_MEMBERSHIP_INSTANCE ?? 'test-membership',
  portBase: process.env.EHR_MEMBERSHIP_PORT_BASE ?? '15000',
};
const keep = process.env.EHR_KEEP_TEST_NETWORK === '1';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('a hospital joins a running consortium, then leaves it', () => {
  let rest: Rest;
  const as = (n: number, sub: string, role: Role) => tokenOn(target, n, sub, role);
  const patientId = `Hospital1MSP:e2e-join-${randomUUID()}`;
  const document = randomBytes(20_000);
  const storedByFour = randomBytes(30_000);
  let recordId = '';
  let recordOfFour = '';

  const store = async (n: number, bytes: Uint8Array) =>
    rest.call(n, 'POST', `/api/v1/patients/${patientId}/records?category=note&title=join`, {
      token: await as(n, `dr-join-h${n}`, 'clinician'),
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });

  beforeAll(async () => {
    await networkOn(target, 'clean', '--yes');
    await networkOn(target, 'up');
    rest = new Rest(await statusOf(target));
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await as(1, 'dr-join-h1', 'clinician'), json: { patientId } }), 201);
    recordId = expectStatus(await store(1, document), 201).recordId;
  }, SLOW);

  afterAll(async () => {
    if (keep) return;
    const stateDir = rest?.instance.stateDir;
    const kept = stateDir ? keepLogs(path.dirname(stateDir), target.name) : undefined;
    if (kept) process.stderr.write(`[membership] the instance's logs are kept in ${kept}\n`);
    await networkOn(target, 'clean', '--yes');
  }, SLOW);

  test('add-hospital brings hospital4 in while hospital2 keeps storing; no store is refused other than with 503', async () => {
    const answers: number[] = [];
    let joining = true;
    const serving = (async () => {
      while (joining) {
        const r = await store(2, randomBytes(4_096)).catch(() => undefined);
        answers.push(r?.status ?? 0);
      }
    })();
    const started = Date.now();
    await networkOn(target, 'add-hospital', 'hospital4').finally(() => {
      joining = false;
    });
    await serving;
    rest = new Rest(await statusOf(target));
    process.stderr.write(`[membership] add-hospital took ${((Date.now() - started) / 1000).toFixed(1)} s; stores meanwhile: ${answers.length}\n`);
    expect(answers.filter((s) => s === 201).length).toBeGreaterThan(0);
    expect(answers.filter((s) => s !== 201 && s !== 503)).toEqual([]);
    expect(rest.instance.hospitals.map((h) => h.mspId)).toEqual(['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP', 'Hospital4MSP']);
    const members = expectStatus(await rest.call(4, 'GET', '/api/v1/hospitals', { token: await as(4, 'dr-join-h4', 'clinician') }), 200);
    expect(members.map((h: { mspId: string }) => h.mspId)).toContain('Hospital4MSP');
  }, SLOW);

  test('running it again changes nothing', async () => {
    await networkOn(target, 'add-hospital', 'hospital4');
    expect((await statusOf(target)).hospitals).toHaveLength(4);
  }, SLOW);

  test('hospital4 asks for a record stored before it joined, the patient approves, hospital4 reads identical bytes', async () => {
    const clinician = await as(4, 'dr-join-h4', 'clinician');
    const asked = expectStatus(
      await rest.call(4, 'POST', '/api/v1/access-requests', { token: clinician, json: { patientId, purpose: 'treatment', reason: 'transfer' } }),
      201,
    );
    const approved = expectStatus(
      await rest.call(1, 'POST', `/api/v1/access-requests/${asked.requestId}/approve`, { token: await as(1, patientId, 'patient') }),
      200,
    );
    expect(approved).toMatchObject({ status: 'approved', consentId: expect.any(String) });
    const read = await eventually(
      'hospital4 to read under the consent (its envelope delivered by the custodian)',
      async () => {
        const r = await rest.call(4, 'GET', `/api/v1/records/${recordId}/content`, { token: clinician });
        if (r.status === 503) return undefined;
        return r;
      },
      60_000,
      500,
    );
    expect(read.status).toBe(200);
    expect(sha256(read.bytes)).toBe(sha256(document));
    // As a custodian now: a record hospital4 stores for the patient (home: hospital1).
    recordOfFour = expectStatus(await store(4, storedByFour), 201).recordId;
    // Its pin reaches the others' Cluster state (they trust the new peer): replicated beyond hospital4.
    const replicated = await eventually(
      'what hospital4 stored to be pinned on another hospital too',
      async () => {
        const v = await rest.call(4, 'GET', `/api/v1/records/${recordOfFour}/verify`, { token: clinician });
        return v.status === 200 && (v.body.pinnedOn as string[]).some((p) => p !== 'hospital4') ? v.body : undefined;
      },
      60_000,
      1_000,
    );
    expect(replicated.intact).toBe(true);
  }, SLOW);

  test('a new record needs 3 of the 4 hospitals: with two peers down a store is refused, with one down it succeeds', async () => {
    await networkOn(target, 'stop', 'hospital2-peer', 'hospital3-peer');
    try {
      const refused = await store(1, randomBytes(1_024));
      expect(refused.status).toBe(503);
      await networkOn(target, 'up');
      await networkOn(target, 'stop', 'hospital3-peer');
      const stored = await eventually(
        'a store endorsed by hospitals 1, 2 and 4 while hospital3 is down',
        async () => {
          const r = await store(1, randomBytes(1_024));
          return r.status === 201 ? r : undefined;
        },
        60_000,
        1_000,
      );
      expect(stored.body).toMatchObject({ custodian: 'Hospital1MSP' });
    } finally {
      await networkOn(target, 'up');
    }
  }, SLOW);

  test('remove-hospital: hospital4 leaves; its consent is revoked, what it stored stays readable and replicated', async () => {
    const started = Date.now();
    await networkOn(target, 'remove-hospital', 'hospital4', '--yes');
    process.stderr.write(`[membership] remove-hospital took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    rest = new Rest(await statusOf(target));
    expect(rest.instance.hospitals.map((h) => h.mspId)).toEqual(['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP']);

    const clinician = await as(1, 'dr-join-h1', 'clinician');
    const members = expectStatus(await rest.call(1, 'GET', '/api/v1/hospitals', { token: clinician }), 200);
    expect(members.map((h: { mspId: string }) => h.mspId)).toEqual(['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP']);
    const consents = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/consents`, { token: await as(1, patientId, 'patient') }), 200);
    const items = (Array.isArray(consents) ? consents : consents.items) as { grantee: string; status: string }[];
    expect(items.filter((c) => c.grantee === 'Hospital4MSP').map((c) => c.status)).toEqual(['revoked']);

    // The patient's home hospital still reads what hospital4 stored, from the others' replicas.
    // Right after every remaining Kubo restarted with the new swarm key, a block may take
    // a moment to come from a replica: 503 with Retry-After then, never 404 or 500.
    const read = await eventually(
      'hospital1 to read what hospital4 stored',
      async () => {
        const r = await rest.call(1, 'GET', `/api/v1/records/${recordOfFour}/content`, { token: clinician });
        return r.status === 503 ? undefined : r;
      },
      60_000,
      1_000,
    );
    expect(read.status).toBe(200);
    expect(sha256(read.bytes)).toBe(sha256(storedByFour));
    for (const id of [recordId, recordOfFour]) {
      const verified = expectStatus(await rest.call(1, 'GET', `/api/v1/records/${id}/verify`, { token: clinician }), 200);
      expect(verified.intact).toBe(true);
      expect(verified.pinnedOn.length).toBeGreaterThanOrEqual(2);
      expect(verified.pinnedOn).not.toContain('hospital4');
    }

    // A new record needs 2 of the 3 that remain: with hospital3's peer down it is stored.
    await networkOn(target, 'stop', 'hospital3-peer');
    try {
      const stored = await eventually('a store endorsed by hospitals 1 and 2', async () => {
        const r = await store(1, randomBytes(1_024));
        return r.status === 201 ? r : undefined;
      }, 120_000, 1_000);
      expect(stored.body).toMatchObject({ custodian: 'Hospital1MSP' });
    } finally {
      await networkOn(target, 'up');
    }
  }, SLOW);
});
