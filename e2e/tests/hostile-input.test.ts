import { common } from '@hyperledger/fabric-protos';
import fc from 'fast-check';
import { randomBytes, randomUUID } from 'node:crypto';
import { connectAs, type Connection } from '../support/fabric.js';
import { ipfsPins } from '../support/ipfs.js';
import { hospital } from '../support/instance.js';
import { Rest, claimsOf, describeReply, expectStatus, forgeToken, tamperSignature, token, type Reply, type Role } from '../support/rest.js';

// Generated hostile input (DESIGN §8, THREATS): several hundred requests across
// every endpoint, each bad by construction — no or forged tokens, alg none,
// expired tokens, another hospital's tokens, wrong roles, other patients,
// malformed IDs and bodies, wrong media types, unknown IDs, hospitals with no
// basis. Every answer must be a 4xx problem+json (never a 5xx), and afterwards
// the ledger (block height at every peer) and every Kubo pinset are unchanged.

type Attack =
  | 'noToken' | 'forged' | 'algNone' | 'tampered' | 'expired' | 'otherHospital'
  | 'wrongRole' | 'otherPatient' | 'malformedId' | 'malformedBody' | 'wrongMediaType' | 'unknownId' | 'noBasis';

type Param = 'patientId' | 'recordId' | 'consentId' | 'requestId';

interface Endpoint {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  roles: Role[];
  /** How a well-formed call sends its body. */
  body?: 'json' | 'upload';
  /** Attacks that make sense here, beyond the token attacks every /api/v1 route gets. */
  attacks: Attack[];
}

const TOKEN_ATTACKS: Attack[] = ['noToken', 'forged', 'algNone', 'tampered', 'expired', 'otherHospital'];

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/api/v1/hospitals', roles: ['clinician', 'patient', 'auditor', 'admin'], attacks: [] },
  { method: 'POST', path: '/api/v1/patients', roles: ['clinician', 'admin'], body: 'json', attacks: ['wrongRole', 'malformedId', 'malformedBody', 'wrongMediaType'] },
  { method: 'POST', path: '/api/v1/patients/{patientId}/records?category=lab&title=hostile', roles: ['clinician'], body: 'upload', attacks: ['wrongRole', 'malformedId', 'wrongMediaType'] },
  { method: 'GET', path: '/api/v1/patients/{patientId}/records', roles: ['clinician', 'patient'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'GET', path: '/api/v1/records/{recordId}', roles: ['clinician', 'patient', 'auditor'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'GET', path: '/api/v1/records/{recordId}/content', roles: ['clinician', 'patient'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'GET', path: '/api/v1/records/{recordId}/verify', roles: ['clinician', 'auditor'], attacks: ['wrongRole', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'DELETE', path: '/api/v1/records/{recordId}', roles: ['patient'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId'] },
  { method: 'POST', path: '/api/v1/patients/{patientId}/consents', roles: ['patient'], body: 'json', attacks: ['wrongRole', 'otherPatient', 'malformedId', 'malformedBody', 'wrongMediaType'] },
  { method: 'GET', path: '/api/v1/patients/{patientId}/consents', roles: ['patient', 'clinician'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'DELETE', path: '/api/v1/consents/{consentId}', roles: ['patient'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId'] },
  { method: 'POST', path: '/api/v1/access-requests', roles: ['clinician'], body: 'json', attacks: ['wrongRole', 'malformedId', 'malformedBody', 'wrongMediaType', 'unknownId'] },
  { method: 'GET', path: '/api/v1/patients/{patientId}/access-requests', roles: ['patient', 'clinician'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'POST', path: '/api/v1/access-requests/{requestId}/approve', roles: ['patient'], body: 'json', attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'wrongMediaType'] },
  { method: 'POST', path: '/api/v1/access-requests/{requestId}/reject', roles: ['patient'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId'] },
  { method: 'GET', path: '/api/v1/audit/records/{recordId}', roles: ['auditor'], attacks: ['wrongRole', 'malformedId', 'unknownId', 'noBasis'] },
  { method: 'GET', path: '/api/v1/audit/patients/{patientId}', roles: ['auditor', 'patient'], attacks: ['wrongRole', 'otherPatient', 'malformedId', 'unknownId', 'noBasis'] },
];

/** The statuses each attack may answer (429: a rate limit is a fine answer to a flood). */
const EXPECTED: Record<Attack, number[]> = {
  noToken: [401], forged: [401], algNone: [401], tampered: [401], expired: [401], otherHospital: [401],
  wrongRole: [403], otherPatient: [403, 404], malformedId: [400, 404], malformedBody: [400], wrongMediaType: [415],
  unknownId: [404], noBasis: [404],
};

const ROLES: Role[] = ['clinician', 'patient', 'auditor', 'admin'];
const paramOf = (path: string): Param | undefined => (/\{(\w+)\}/.exec(path)?.[1] as Param | undefined);

/** Text that no ID format accepts: it always holds a character outside every ID alphabet. */
const badId = fc
  .tuple(
    fc.string({ maxLength: 12 }),
    fc.constantFrom('<', '>', ' ', '"', '{', '}', '%', "'", '\\', 'é', '*', '\u0000', '#', '?', '/', '\n', '…'),
    fc.string({ maxLength: 12 }),
  )
  .map(([a, b, c]) => a + b + c);

/** JSON that does not parse. */
const brokenJson = fc.string({ maxLength: 40 }).map((s) => `{"patientId": ${JSON.stringify(s)}`);

interface Case {
  endpoint: Endpoint;
  attack: Attack;
  hospital: 1 | 2 | 3;
  junk: string;
  body: string;
}

const CASES: Array<{ endpoint: Endpoint; attack: Attack }> = ENDPOINTS.flatMap((endpoint) =>
  [...TOKEN_ATTACKS, ...endpoint.attacks].map((attack) => ({ endpoint, attack })),
);

describe('generated hostile input through REST', () => {
  let rest: Rest;
  const patientId = `Hospital1MSP:e2e-hostile-${randomUUID()}`; // at home at hospital 1
  const otherPatientId = `Hospital1MSP:e2e-hostile-other-${randomUUID()}`; // at home at hospital 1 too
  let recordId = '';
  let consentId = '';
  let requestId = '';
  let expired = '';
  const connections: Connection[] = [];
  const tokens = new Map<string, string>();

  const tok = (n: number, sub: string, role: Role) => tokens.get(`${n}|${sub}|${role}`)!;
  const staff = (role: Role) => (role === 'patient' ? patientId : `hostile-${role}`);

  async function heights(): Promise<number[]> {
    return Promise.all(
      connections.map(async (c) => {
        const info = await c.gateway.getNetwork(rest.instance.channel).getContract('qscc').evaluateTransaction('GetChainInfo', rest.instance.channel);
        return common.BlockchainInfo.deserializeBinary(info).getHeight();
      }),
    );
  }

  async function pinsets(): Promise<string[][]> {
    return Promise.all(rest.instance.hospitals.map(async (h) => (await ipfsPins(h.kubo.rpc)).sort()));
  }

  /** Waits until no transaction commits for a few seconds: earlier suites' custody work is done. */
  async function quiescent(): Promise<number[]> {
    let last = await heights();
    let stableSince = Date.now();
    const deadline = Date.now() + 120_000;
    while (Date.now() - stableSince < 6_000) {
      if (Date.now() > deadline) throw new Error('the ledger kept growing for 2 minutes');
      await new Promise((r) => setTimeout(r, 1_000));
      const now = await heights();
      if (now.join() !== last.join()) {
        last = now;
        stableSince = Date.now();
      }
    }
    return last;
  }

  function request(c: Case): { method: string; path: string; token?: string; headers: Record<string, string>; body?: string | Buffer } {
    const { endpoint, attack, hospital: n } = c;
    const ids: Record<Param, string> = { patientId, recordId, consentId, requestId };
    const param = paramOf(endpoint.path);
    if (param && attack === 'malformedId') ids[param] = c.junk;
    if (param && attack === 'unknownId') ids[param] = param === 'patientId' ? `e2e-nobody-${randomUUID()}` : randomUUID();
    const path = endpoint.path.replace(/\{(\w+)\}/, (_m, p: Param) => encodeURIComponent(ids[p]));
    // The hospital asked: hospital 1 (the patient's home) for most attacks; a third one for noBasis.
    const target = attack === 'noBasis' ? 3 : attack === 'otherHospital' ? n : 1;
    const allowed = endpoint.roles.includes('clinician') ? 'clinician' : endpoint.roles[0];
    let role: Role = allowed;
    let sub = staff(role);
    if (attack === 'wrongRole') role = ROLES.find((r) => !endpoint.roles.includes(r))!;
    if (attack === 'otherPatient') role = 'patient';
    sub = attack === 'otherPatient' ? otherPatientId : staff(role);
    const valid = tok(target === 3 && attack === 'noBasis' ? 3 : 1, sub, role);

    let bearer: string | undefined = valid;
    switch (attack) {
      case 'noToken':
        bearer = undefined;
        break;
      case 'forged':
        bearer = forgeToken(claimsOf(valid));
        break;
      case 'algNone': {
        const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
        bearer = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claimsOf(valid))}.`;
        break;
      }
      case 'tampered':
        bearer = tamperSignature(valid);
        break;
      case 'expired':
        bearer = expired;
        break;
      case 'otherHospital':
        // A genuine token of another hospital, sent to hospital 1's gateway... or hospital 1's sent elsewhere.
        bearer = tok(n === 1 ? 2 : 1, staff(allowed), allowed);
        break;
      default:
        break;
    }
    const headers: Record<string, string> = {};
    let body: string | Buffer | undefined;
    if (endpoint.body === 'upload') {
      if (attack !== 'wrongMediaType') headers['content-type'] = 'application/octet-stream';
      body = randomBytes(512);
    } else if (endpoint.body === 'json') {
      headers['content-type'] = 'application/json';
      const valid: Record<string, unknown> = {
        '/api/v1/patients': { patientId: `Hospital1MSP:e2e-hostile-new-${randomUUID()}` },
        '/api/v1/access-requests': { patientId, purpose: 'treatment', reason: 'referral' },
      };
      const json =
        endpoint.path === '/api/v1/access-requests'
          ? { ...(valid[endpoint.path] as object), ...(attack === 'malformedId' ? { patientId: c.junk } : {}), ...(attack === 'unknownId' ? { patientId: `e2e-nobody-${randomUUID()}` } : {}) }
          : endpoint.path === '/api/v1/patients'
            ? attack === 'malformedId' ? { patientId: c.junk } : valid[endpoint.path]
            : endpoint.path.endsWith('/consents')
              ? { grantee: 'Hospital2MSP', purposes: ['treatment'] }
              : {};
      body = JSON.stringify(json);
      if (attack === 'malformedBody') body = c.body;
      if (attack === 'wrongMediaType') {
        headers['content-type'] = c.junk.length % 2 ? 'application/xml' : 'application/x-www-form-urlencoded';
        body = headers['content-type'] === 'application/xml' ? '<patientId>x</patientId>' : 'patientId=x';
      }
    }
    return { method: endpoint.method, path, token: bearer, headers, body };
  }

  beforeAll(async () => {
    rest = await Rest.open();
    for (const n of [1, 2, 3]) connections.push(connectAs(hospital(rest.instance, n)));
    for (const n of [1, 2, 3]) {
      for (const role of ROLES) tokens.set(`${n}|${staff(role)}|${role}`, await token(n, staff(role), role));
      tokens.set(`${n}|${otherPatientId}|patient`, await token(n, otherPatientId, 'patient'));
    }
    // The data the attacks aim at: a patient at hospital 1 with a record, a consent and a pending request.
    const clin1 = tok(1, staff('clinician'), 'clinician');
    for (const id of [patientId, otherPatientId]) {
      expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: clin1, json: { patientId: id } }), 201);
    }
    const stored = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/records?category=lab&title=target`, {
      token: clin1,
      body: randomBytes(2_048),
      headers: { 'content-type': 'application/octet-stream' },
    });
    recordId = expectStatus(stored, 201).recordId;
    const granted = await rest.call(1, 'POST', `/api/v1/patients/${patientId}/consents`, {
      token: tok(1, patientId, 'patient'),
      json: { grantee: 'Hospital2MSP', purposes: ['research'], scope: { categories: ['imaging'] } },
    });
    consentId = expectStatus(granted, 201).consentId;
    // Hospital 2 holds the consent and asked; hospital 3 has no relation at all to the patient.
    const asked = await rest.call(2, 'POST', '/api/v1/access-requests', {
      token: tok(2, staff('clinician'), 'clinician'),
      json: { patientId, purpose: 'treatment', reason: 'referral' },
    });
    requestId = expectStatus(asked, 201).requestId;
    // A genuine hospital-1 token that has expired (beyond the gateway's clock tolerance).
    expired = await token(1, 'hostile-expired', 'clinician', 1);
    await new Promise((r) => setTimeout(r, Math.max(0, ((claimsOf(expired).exp as number) + 6) * 1000 - Date.now())));
  });

  afterAll(() => {
    for (const c of connections) c.close();
  });

  test('every generated bad request is a 4xx problem+json; the ledger and every pinset are unchanged', async () => {
    const ledgerBefore = await quiescent();
    const pinsBefore = await pinsets();
    const answers: Array<{ attack: Attack; status: number }> = [];

    await fc.assert(
      fc.asyncProperty(
        fc.record({
          pick: fc.constantFrom(...CASES),
          hospital: fc.constantFrom<1 | 2 | 3>(1, 2, 3),
          junk: badId,
          body: brokenJson,
        }),
        async ({ pick, hospital: n, junk, body }) => {
          const c: Case = { ...pick, hospital: n, junk, body };
          const req = request(c);
          const target = c.attack === 'noBasis' ? 3 : c.attack === 'otherHospital' && n !== 1 ? n : 1;
          const r: Reply = await rest.call(target, req.method, req.path, { token: req.token, headers: req.headers, body: req.body });
          const what = `${c.attack} ${req.method} ${req.path} → ${describeReply(r)}`;
          expect(what).not.toMatch(/→ 5\d\d /);
          expect([...EXPECTED[c.attack], 429].map((s) => `${c.attack} ${s}`)).toContain(`${c.attack} ${r.status}`);
          expect(`${r.contentType} ${what}`).toMatch(/^application\/problem\+json/);
          expect((r.body as { status?: number }).status).toBe(r.status);
          answers.push({ attack: c.attack, status: r.status });
        },
      ),
      { numRuns: 260, seed: Number(process.env.EHR_FC_SEED ?? Date.now() % 2 ** 31), verbose: 1 },
    );

    expect(answers.length).toBeGreaterThanOrEqual(200);
    expect(new Set(answers.map((a) => a.attack)).size).toBeGreaterThanOrEqual(12);
    expect(await heights()).toEqual(ledgerBefore);
    expect(await pinsets()).toEqual(pinsBefore);
  });
});
