import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hospital } from '../support/instance.js';
import { ipfsPins } from '../support/ipfs.js';
import { Rest, claimsOf, expectProblem, expectStatus, forgeToken, tamperSignature, token, type Reply } from '../support/rest.js';

// Bad input of every kind (DESIGN §7, §8): each is answered with the right
// application/problem+json status, and nothing is written — checked through the
// patient's records, consents, access requests and audit trail on the ledger, and
// the pin sets of every hospital's Kubo node for uploads.

interface Snapshot {
  records: unknown;
  consents: unknown;
  requests: unknown;
  audit: unknown;
}

describe('bad input through REST', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patientA = `Hospital1MSP:e2e-bad-a-${run}`;
  const patientB = `Hospital1MSP:e2e-bad-b-${run}`;
  let recordId = '';

  const clinician = (n: number) => token(n, `dr-e2e-bad-h${n}`, 'clinician');
  const auditor = (n = 1) => token(n, `auditor-e2e-bad-h${n}`, 'auditor');
  const patient = (id: string, n = 1) => token(n, id, 'patient');
  const fresh = () => `Hospital1MSP:e2e-bad-x-${randomUUID()}`;

  /** What the ledger holds for a patient, read through the home hospital (delivery bookkeeping aside). */
  async function snapshot(patientId = patientA): Promise<Snapshot> {
    const tok = await patient(patientId);
    const get = async (path: string) => expectStatus(await rest.call(1, 'GET', path, { token: tok }), 200);
    const [records, consents, requests, audit] = await Promise.all([
      get(`/api/v1/patients/${patientId}/records`),
      get(`/api/v1/patients/${patientId}/consents`),
      get(`/api/v1/patients/${patientId}/access-requests`),
      get(`/api/v1/audit/patients/${patientId}`),
    ]);
    const ledgerEvents = (audit as { type: string }[]).filter((e) => !e.type.startsWith('Envelope'));
    return { records, consents, requests, audit: ledgerEvents };
  }

  /** Every recursive pin of every hospital's Kubo node. */
  async function pins(): Promise<string[]> {
    const all: string[] = [];
    for (const h of rest.instance.hospitals) {
      all.push(...(await ipfsPins(h.kubo.rpc)).map((cid) => `${h.name}:${cid}`));
    }
    return all.sort();
  }

  /** Runs a bad call, expects the problem status, and checks that the ledger (and, if asked, IPFS) did not change. */
  async function rejected(status: number, call: () => Promise<Reply>, opts: { patientId?: string; ipfs?: boolean } = {}) {
    const before = await snapshot(opts.patientId);
    const pinsBefore = opts.ipfs ? await pins() : [];
    const problem = expectProblem(await call(), status);
    expect(await snapshot(opts.patientId)).toEqual(before);
    if (opts.ipfs) expect(await pins()).toEqual(pinsBefore);
    return problem;
  }

  /** The patient ID was never registered. */
  async function expectNoPatient(patientId: string) {
    const r = await rest.call(1, 'GET', `/api/v1/audit/patients/${patientId}`, { token: await auditor() });
    expectProblem(r, 404);
  }

  const json = (n: number, method: string, path: string, tok: string, body: string) =>
    rest.call(n, method, path, { token: tok, body, headers: { 'content-type': 'application/json' } });

  beforeAll(async () => {
    rest = await Rest.open();
    const c1 = await clinician(1);
    for (const patientId of [patientA, patientB]) {
      expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: c1, json: { patientId } }), 201);
    }
    const stored = await rest.call(1, 'POST', `/api/v1/patients/${patientA}/records?category=note`, {
      token: c1,
      body: randomBytes(1024),
      headers: { 'content-type': 'text/plain' },
    });
    recordId = expectStatus(stored, 201).recordId;
  });

  describe('400 invalid', () => {
    test('malformed JSON', async () => {
      const id = fresh();
      await rejected(400, async () => json(1, 'POST', '/api/v1/patients', await clinician(1), `{"patientId": "${id}"`));
      await expectNoPatient(id);
      await rejected(400, async () => json(2, 'POST', '/api/v1/access-requests', await clinician(2), `{patientId: ${patientA}}`));
      await rejected(400, async () => json(1, 'POST', `/api/v1/patients/${patientA}/consents`, await patient(patientA), 'grantee=Hospital2MSP'));
    });

    test('wrong types', async () => {
      await rejected(400, async () => rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId: 12345 } }));
      await rejected(400, async () => rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: [fresh()] }));
      await rejected(400, async () =>
        rest.call(2, 'POST', '/api/v1/access-requests', {
          token: await clinician(2),
          json: { patientId: patientA, purpose: ['treatment'], reason: 42 },
        }),
      );
      const grant = async (body: unknown) =>
        rest.call(1, 'POST', `/api/v1/patients/${patientA}/consents`, { token: await patient(patientA), json: body });
      await rejected(400, () => grant({ grantee: 'Hospital2MSP', purposes: 'treatment' }));
      await rejected(400, () => grant({ grantee: 'Hospital2MSP', purposes: ['treatment'], expiresAt: 'tomorrow' }));
      await rejected(400, () => grant({ grantee: 'Hospital2MSP', purposes: ['treatment'], scope: { categories: 'lab' } }));
    });

    test('unknown category, or none, on upload', async () => {
      const upload = async (query: string) =>
        rest.call(1, 'POST', `/api/v1/patients/${patientA}/records${query}`, {
          token: await clinician(1),
          body: randomBytes(2048),
          headers: { 'content-type': 'application/pdf' },
        });
      const p = await rejected(400, () => upload('?category=xray&title=Chest'), { ipfs: true });
      expect(JSON.stringify(p)).toMatch(/category/);
      await rejected(400, () => upload('?title=Chest'), { ipfs: true });
    });

    test('an unknown purpose of use', async () => {
      await rejected(400, async () =>
        rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await clinician(1), headers: { 'x-purpose-of-use': 'curiosity' } }),
      );
    });
  });

  describe('401 no or bad token', () => {
    const register = (tok: string | undefined, id: string, headers: Record<string, string> = {}) =>
      rest.call(1, 'POST', '/api/v1/patients', { ...(tok === undefined ? {} : { token: tok }), json: { patientId: id }, headers });

    test('missing token', async () => {
      const id = fresh();
      await rejected(401, () => register(undefined, id));
      await expectNoPatient(id);
      await rejected(401, () => register(undefined, id, { authorization: 'Basic ZHI6c2VjcmV0' }));
      await expectNoPatient(id);
      expectProblem(await rest.call(1, 'GET', `/api/v1/patients/${patientA}/records`), 401);
    });

    test('expired token', async () => {
      const short = await token(1, 'dr-e2e-bad-expiring', 'clinician', 1);
      // The gateway allows clock skew (auth.clockToleranceSeconds, 5 s unless configured):
      // wait until the token is expired beyond it.
      const config = JSON.parse(readFileSync(path.join(hospital(rest.instance, 1).stateDir, 'gateway', 'config.json'), 'utf8')) as {
        auth?: { clockToleranceSeconds?: number };
      };
      const tolerance = config.auth?.clockToleranceSeconds ?? 5;
      const expiredAt = ((claimsOf(short).exp as number) + tolerance + 1) * 1000;
      await new Promise((r) => setTimeout(r, Math.max(0, expiredAt - Date.now())));
      const id = fresh();
      await rejected(401, () => register(short, id));
      await expectNoPatient(id);
    });

    test('forged token: signature altered', async () => {
      const id = fresh();
      await rejected(401, async () => register(tamperSignature(await clinician(1)), id));
      await expectNoPatient(id);
    });

    test('forged token: the right claims signed by a key no identity provider holds', async () => {
      const id = fresh();
      await rejected(401, async () => register(forgeToken(claimsOf(await clinician(1))), id));
      await expectNoPatient(id);
    });

    test("another hospital's token (signed by hospital 2's key) at hospital 1", async () => {
      const id = fresh();
      await rejected(401, async () => register(await clinician(2), id));
      await expectNoPatient(id);
      expectProblem(await rest.call(1, 'GET', `/api/v1/patients/${patientA}/records`, { token: await patient(patientA, 2) }), 401);
    });

    test('unsigned token (alg none)', async () => {
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsOf(await clinician(1)))}.`;
      const id = fresh();
      await rejected(401, () => register(unsigned, id));
      await expectNoPatient(id);
    });
  });

  describe('403 not permitted', () => {
    test('wrong role: an auditor stores a record', async () => {
      await rejected(
        403,
        async () =>
          rest.call(1, 'POST', `/api/v1/patients/${patientA}/records?category=lab`, {
            token: await auditor(),
            body: randomBytes(4096),
            headers: { 'content-type': 'application/pdf' },
          }),
        { ipfs: true },
      );
    });

    test('wrong role: a patient registers a patient, asks for access; a clinician erases; an admin reads content', async () => {
      const id = fresh();
      await rejected(403, async () => rest.call(1, 'POST', '/api/v1/patients', { token: await patient(patientA), json: { patientId: id } }));
      await expectNoPatient(id);
      await rejected(403, async () =>
        rest.call(1, 'POST', '/api/v1/access-requests', {
          token: await patient(patientA),
          json: { patientId: patientB, purpose: 'treatment', reason: 'transfer' },
        }),
        { patientId: patientB },
      );
      await rejected(403, async () => rest.call(1, 'DELETE', `/api/v1/records/${recordId}`, { token: await clinician(1) }));
      await rejected(403, async () => rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await token(1, 'admin-e2e-bad', 'admin') }));
    });

    test("wrong role for the audit trail and verification", async () => {
      await rejected(403, async () => rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: await clinician(1) }));
      await rejected(403, async () => rest.call(1, 'GET', `/api/v1/records/${recordId}/verify`, { token: await patient(patientA) }));
    });

    test("another patient's token", async () => {
      const b = await patient(patientB);
      await rejected(403, () => rest.call(1, 'GET', `/api/v1/patients/${patientA}/records`, { token: b }));
      await rejected(403, () => rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: b }));
      await rejected(403, () => rest.call(1, 'GET', `/api/v1/audit/patients/${patientA}`, { token: b }));
      await rejected(403, () => rest.call(1, 'DELETE', `/api/v1/records/${recordId}`, { token: b }));
      await rejected(403, () =>
        rest.call(1, 'POST', `/api/v1/patients/${patientA}/consents`, { token: b, json: { grantee: 'Hospital2MSP', purposes: ['treatment'] } }),
      );
    });

    test("the patient acting through a hospital that is not home (nor custodian)", async () => {
      const away = await patient(patientA, 2);
      await rejected(403, () =>
        rest.call(2, 'POST', `/api/v1/patients/${patientA}/consents`, { token: away, json: { grantee: 'Hospital2MSP', purposes: ['treatment'] } }),
      );
      // Not the custodian and no basis at hospital 2: the record does not exist there (need-to-know).
      await rejected(404, () => rest.call(2, 'DELETE', `/api/v1/records/${recordId}`, { token: away }));
    });

    test('consent by a non-patient (clinician, admin, auditor)', async () => {
      const body = { grantee: 'Hospital3MSP', purposes: ['treatment'] };
      for (const tok of [await clinician(1), await token(1, 'admin-e2e-bad', 'admin'), await auditor()]) {
        await rejected(403, () => rest.call(1, 'POST', `/api/v1/patients/${patientA}/consents`, { token: tok, json: body }));
      }
    });

  });

  describe('404 without a basis (need-to-know: the same answer as for an unknown ID)', () => {
    test('a clinician of a hospital with no relation to the patient: content, metadata, verify, lists, audit', async () => {
      const c3 = await clinician(3);
      const unknownRecord = randomUUID();
      for (const path of [`/api/v1/records/${recordId}/content`, `/api/v1/records/${recordId}`, `/api/v1/records/${recordId}/verify`]) {
        const known = await rejected(404, async () => rest.call(3, 'GET', path, { token: c3 }));
        const unknown = await rejected(404, async () => rest.call(3, 'GET', path.replace(recordId, unknownRecord), { token: c3 }));
        expect(known.detail.replace(recordId, 'X')).toBe(unknown.detail.replace(unknownRecord, 'X'));
      }
      for (const path of ['records', 'consents', 'access-requests']) {
        await rejected(404, async () => rest.call(3, 'GET', `/api/v1/patients/${patientA}/${path}`, { token: c3 }));
      }
      await rejected(404, async () => rest.call(3, 'GET', `/api/v1/audit/records/${recordId}`, { token: await token(3, 'aud-e2e-bad', 'auditor') }));
      await rejected(404, async () => rest.call(3, 'GET', `/api/v1/audit/patients/${patientA}`, { token: await token(3, 'aud-e2e-bad', 'auditor') }));
    });
  });

  describe('404 unknown', () => {
    test('unknown record, consent and request IDs', async () => {
      const unknown = randomUUID();
      await rejected(404, async () => rest.call(1, 'GET', `/api/v1/records/${unknown}`, { token: await clinician(1) }));
      await rejected(404, async () => rest.call(1, 'GET', `/api/v1/records/${unknown}/content`, { token: await clinician(1) }));
      await rejected(404, async () => rest.call(1, 'GET', `/api/v1/records/${unknown}/verify`, { token: await auditor() }));
      await rejected(404, async () => rest.call(1, 'GET', `/api/v1/audit/records/${unknown}`, { token: await auditor() }));
      await rejected(404, async () => rest.call(1, 'DELETE', `/api/v1/records/${unknown}`, { token: await patient(patientA) }));
      await rejected(404, async () => rest.call(1, 'DELETE', `/api/v1/consents/${unknown}`, { token: await patient(patientA) }));
      await rejected(404, async () => rest.call(1, 'POST', `/api/v1/access-requests/${unknown}/approve`, { token: await patient(patientA) }));
      await rejected(404, async () => rest.call(1, 'POST', `/api/v1/access-requests/${unknown}/reject`, { token: await patient(patientA) }));
    });

    test('unknown patient', async () => {
      const id = fresh();
      await rejected(404, async () => rest.call(1, 'GET', `/api/v1/patients/${id}/records`, { token: await clinician(1) }));
      await rejected(
        404,
        async () =>
          rest.call(1, 'POST', `/api/v1/patients/${id}/records?category=lab`, {
            token: await clinician(1),
            body: randomBytes(2048),
            headers: { 'content-type': 'application/pdf' },
          }),
        { ipfs: true },
      );
      expectProblem(
        await rest.call(2, 'POST', '/api/v1/access-requests', {
          token: await clinician(2),
          json: { patientId: id, purpose: 'treatment', reason: 'transfer' },
        }),
        404,
      );
      expectProblem(
        await rest.call(1, 'POST', `/api/v1/patients/${id}/consents`, { token: await patient(id), json: { grantee: 'Hospital2MSP', purposes: ['treatment'] } }),
        404,
      );
      await expectNoPatient(id);
    });

    test('unknown grantee hospital', async () => {
      await rejected(404, async () =>
        rest.call(1, 'POST', `/api/v1/patients/${patientA}/consents`, {
          token: await patient(patientA),
          json: { grantee: 'Hospital9MSP', purposes: ['treatment'] },
        }),
      );
    });

    test('unknown path', async () => {
      expectProblem(await rest.call(1, 'GET', '/api/v1/nowhere', { token: await clinician(1) }), 404);
    });
  });

  describe('409 conflict', () => {
    test('replayed patientId at the home hospital: 409; another hospital cannot capture it (400, its own namespace only)', async () => {
      await rejected(409, async () => rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId: patientA } }));
      const captured = await rejected(400, async () => rest.call(2, 'POST', '/api/v1/patients', { token: await clinician(2), json: { patientId: patientA } }));
      expect(captured.detail).toMatch(/start with 'Hospital2MSP:'/);
      const audit = expectStatus(await rest.call(1, 'GET', `/api/v1/audit/patients/${patientA}`, { token: await auditor() }), 200) as {
        type: string;
        hospital: string;
      }[];
      expect(audit.filter((e) => e.type === 'PatientRegistered')).toEqual([expect.objectContaining({ hospital: 'Hospital1MSP' })]);
    });

    test('approving or rejecting an already decided request; revoking a revoked consent', async () => {
      const asked = await rest.call(2, 'POST', '/api/v1/access-requests', {
        token: await clinician(2),
        json: { patientId: patientB, purpose: 'treatment', reason: 'second-opinion' },
      });
      const { requestId } = expectStatus(asked, 201);
      // Only the patient decides.
      await rejected(403, async () => rest.call(1, 'POST', `/api/v1/access-requests/${requestId}/approve`, { token: await clinician(1) }), {
        patientId: patientB,
      });
      await rejected(403, async () => rest.call(1, 'POST', `/api/v1/access-requests/${requestId}/approve`, { token: await patient(patientA) }), {
        patientId: patientB,
      });
      const approved = await rest.call(1, 'POST', `/api/v1/access-requests/${requestId}/approve`, { token: await patient(patientB) });
      const { consentId } = expectStatus(approved, 200);
      expect(consentId).toEqual(expect.any(String));

      await rejected(409, async () => rest.call(1, 'POST', `/api/v1/access-requests/${requestId}/approve`, { token: await patient(patientB) }), {
        patientId: patientB,
      });
      await rejected(409, async () => rest.call(1, 'POST', `/api/v1/access-requests/${requestId}/reject`, { token: await patient(patientB) }), {
        patientId: patientB,
      });

      expectStatus(await rest.call(1, 'DELETE', `/api/v1/consents/${consentId}`, { token: await patient(patientB) }), 200);
      await rejected(409, async () => rest.call(1, 'DELETE', `/api/v1/consents/${consentId}`, { token: await patient(patientB) }), {
        patientId: patientB,
      });
    });
  });

  describe('410 erased', () => {
    test('content of an erased record, at the custodian and elsewhere; erasing twice', async () => {
      const stored = await rest.call(1, 'POST', `/api/v1/patients/${patientB}/records?category=imaging`, {
        token: await clinician(1),
        body: randomBytes(4096),
        headers: { 'content-type': 'image/png' },
      });
      const erasedId = expectStatus(stored, 201).recordId as string;
      expectStatus(await rest.call(1, 'DELETE', `/api/v1/records/${erasedId}`, { token: await patient(patientB) }), 200);
      const opts = { patientId: patientB };
      await rejected(410, async () => rest.call(1, 'GET', `/api/v1/records/${erasedId}/content`, { token: await clinician(1) }), opts);
      await rejected(410, async () => rest.call(1, 'GET', `/api/v1/records/${erasedId}/content`, { token: await patient(patientB) }), opts);
      // Hospital 2 never had a basis: for it the record does not exist, erased or not.
      await rejected(404, async () => rest.call(2, 'GET', `/api/v1/records/${erasedId}/content`, { token: await clinician(2) }), opts);
      await rejected(410, async () => rest.call(1, 'DELETE', `/api/v1/records/${erasedId}`, { token: await patient(patientB) }), opts);
    });
  });

  describe('413 too large', () => {
    test('an oversized JSON body', async () => {
      const id = fresh();
      const big = JSON.stringify({ patientId: id, padding: 'x'.repeat(2 * 1024 * 1024) });
      await rejected(413, async () => json(1, 'POST', '/api/v1/patients', await clinician(1), big));
      await expectNoPatient(id);
      const bigGrant = JSON.stringify({ grantee: 'Hospital2MSP', purposes: ['treatment'], padding: 'x'.repeat(2 * 1024 * 1024) });
      await rejected(413, async () => json(1, 'POST', `/api/v1/patients/${patientA}/consents`, await patient(patientA), bigGrant));
    });
  });
});
