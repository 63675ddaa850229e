import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { hospital, network } from '../support/instance.js';
import { Rest, expectProblem, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Trust boundaries on a real network: abuse limits (429 + Retry-After), denied requests
// attributable and counted in /metrics, the actor's role on the ledger's access entries,
// bounded token lifetimes, and access-request reasons that are codes, never free text.
//
// The default limits are far above what the suites send; the limit test lowers them on
// hospital 3's gateway only (overrides.json), restarts it, and restores it afterwards.

describe('accountability and abuse limits', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patientId = `Hospital1MSP:e2e-acct-${run}`;
  const clinician = (n: number) => token(n, `dr-e2e-acct-h${n}`, 'clinician');
  let recordId: string;

  /** The value of one sample of hospital n's /metrics, 0 when absent. */
  async function sample(n: number, series: string): Promise<number> {
    const r = await rest.call(n, 'GET', '/metrics');
    expect(r.status).toBe(200);
    const line = r.bytes
      .toString('utf8')
      .split('\n')
      .find((l) => l.startsWith(`${series} `));
    return line ? Number(line.split(' ')[1]) : 0;
  }

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(1), json: { patientId } }), 201);
    const stored = expectStatus(
      await rest.call(1, 'POST', `/api/v1/patients/${patientId}/records?category=lab`, {
        token: await clinician(1),
        body: randomBytes(2048),
        headers: { 'content-type': 'application/octet-stream' },
      }),
      201,
    ) as { recordId: string };
    recordId = stored.recordId;
  });

  test("the audit trail shows the role of each access's actor, as the gateway vouched for it", async () => {
    expect((await rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await clinician(1) })).status).toBe(200);
    expect((await rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await token(1, patientId, 'patient') })).status).toBe(200);
    const trail = expectStatus(await rest.call(1, 'GET', `/api/v1/audit/records/${recordId}`, { token: await token(1, 'aud-e2e-acct', 'auditor') }), 200) as {
      type: string;
      actor: string;
      actorRole?: string;
    }[];
    const accesses = trail.filter((e) => e.type === 'RecordAccessed').map((e) => [e.actor, e.actorRole]);
    expect(accesses).toEqual([
      ['dr-e2e-acct-h1', 'clinician'],
      [patientId, 'patient'],
    ]);
  });

  test('a free-text reason is 400 and nothing is requested; a reason code is accepted', async () => {
    const free = expectProblem(
      await rest.call(2, 'POST', '/api/v1/access-requests', { token: await clinician(2), json: { patientId, purpose: 'treatment', reason: 'Oncology referral' } }),
      400,
    );
    const errors = free.errors as { field: string; message: string }[];
    expect(errors.map((e) => e.field)).toEqual(['body.reason']);
    expect(errors[0].message).toContain('second-opinion');
    const note = expectProblem(
      await rest.call(2, 'POST', '/api/v1/access-requests', {
        token: await clinician(2),
        json: { patientId, purpose: 'treatment', reason: 'referral', note: 'suspected relapse' },
      }),
      400,
    );
    expect(note.detail).toBeTruthy();
    const home = expectStatus(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/access-requests`, { token: await token(1, patientId, 'patient') }), 200) as unknown[];
    expect(home).toEqual([]);
    const made = expectStatus(
      await rest.call(2, 'POST', '/api/v1/access-requests', { token: await clinician(2), json: { patientId, purpose: 'treatment', reason: 'referral' } }),
      201,
    );
    expect(made).toMatchObject({ reason: 'referral', status: 'pending' });
  });

  test('denied requests are counted in /metrics by rule and status', async () => {
    const missing = 'ehr_denied_requests_total{rule="token.missing",status="401"}';
    const role = 'ehr_denied_requests_total{rule="role",status="403"}';
    const before = { missing: await sample(1, missing), role: await sample(1, role) };
    expect((await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`)).status).toBe(401);
    expectProblem(await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: await token(1, 'aud-e2e-acct', 'auditor') }), 403);
    expect(await sample(1, missing)).toBe(before.missing + 1);
    expect(await sample(1, role)).toBe(before.role + 1);
  });

  test('network.sh token refuses a --ttl beyond the maximum token lifetime', async () => {
    await expect(network('token', 'hospital1', 'dr-e2e-acct', 'clinician', '--ttl', '7200')).rejects.toThrow(
      /--ttl 7200 is longer than the gateways accept: tokens live at most 3600 s/,
    );
  });

  describe("with low limits on hospital 3's gateway (overrides.json)", () => {
    let overridesPath: string;
    let previous: string | undefined;

    async function restartGateway3(): Promise<void> {
      await network('stop', 'hospital3-gateway');
      await network('up');
      await eventually('hospital 3 gateway healthy', async () => ((await rest.call(3, 'GET', '/health')).status === 200 ? true : undefined), 180_000, 500);
    }

    beforeAll(async () => {
      overridesPath = path.join(hospital(rest.instance, 3).stateDir, 'gateway', 'overrides.json');
      previous = existsSync(overridesPath) ? readFileSync(overridesPath, 'utf8') : undefined;
      const base = previous ? (JSON.parse(previous) as Record<string, unknown>) : {};
      writeFileSync(
        overridesPath,
        JSON.stringify({ ...base, rateLimits: { reads: { max: 5, windowSeconds: 120 } }, auth: { maxTokenLifetimeSeconds: 600 } }, null, 2),
      );
      await restartGateway3();
    });

    afterAll(async () => {
      if (previous === undefined) rmSync(overridesPath, { force: true });
      else writeFileSync(overridesPath, previous);
      await restartGateway3();
    });

    test('the sixth read in the window is 429 problem+json with Retry-After, and is counted', async () => {
      const reader = await token(3, `dr-e2e-acct-limit-${run}`, 'clinician', 300);
      for (let i = 0; i < 5; i++) expectStatus(await rest.call(3, 'GET', '/api/v1/hospitals', { token: reader }), 200);
      const limited = await rest.call(3, 'GET', '/api/v1/hospitals', { token: reader });
      const problem = expectProblem(limited, 429);
      expect(problem.detail).toMatch(/^rate limit exceeded: more than 5 reads by this actor in 120 s/);
      const retryAfter = Number(limited.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(120);
      // Another actor still reads.
      expectStatus(await rest.call(3, 'GET', '/api/v1/hospitals', { token: await token(3, `dr-e2e-acct-other-${run}`, 'clinician', 300) }), 200);
      expect(await sample(3, 'ehr_denied_requests_total{rule="rate-limit.reads",status="429"}')).toBe(1);
      // The gateway's log names who was denied, by which rule: attributable, and free of PHI.
      const denied = await eventually('the denial in the gateway log', async () => {
        const lines = (await network('logs', 'hospital3-gateway', '-n', '500')).split('\n');
        const found = lines
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .find((l) => l.msg === 'request denied' && l.rule === 'rate-limit.reads' && l.sub === `dr-e2e-acct-limit-${run}`);
        return found;
      });
      expect(denied).toMatchObject({ status: 429, role: 'clinician', hospital: rest.mspId(3), route: '/api/v1/hospitals', level: 40 });
    });

    test('a token living longer than auth.maxTokenLifetimeSeconds is 401, however fresh', async () => {
      const long = await token(3, `dr-e2e-acct-long-${run}`, 'clinician', 3600);
      const problem = expectProblem(await rest.call(3, 'GET', '/api/v1/hospitals', { token: long }), 401);
      expect(problem.detail).toMatch(/^token lifetime too long: exp - iat is 3600 s, and this gateway accepts at most 600 s/);
      expect(await sample(3, 'ehr_denied_requests_total{rule="token.lifetime",status="401"}')).toBe(1);
    });
  });
});
