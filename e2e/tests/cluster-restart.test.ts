import { randomBytes, randomUUID } from 'node:crypto';
import { hospital, network, readSecret, status, type HospitalStatus } from '../support/instance.js';
import { Rest, expectProblem, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Issue: right after Cluster peers restart they see each other before they hold
// each other's allocator metrics, and a store in that window failed with 503
// "not enough peers to allocate". `up` now waits until every Cluster peer can
// allocate to replication-min peers, and a gateway that meets the window anyway
// waits for allocation before it answers 503 with Retry-After.

const CLUSTERS = ['hospital1-cluster', 'hospital2-cluster', 'hospital3-cluster'];

/** How many peers hospital h's Cluster peer could allocate a new pin to (valid tag:group and freespace metrics). */
async function allocatable(h: HospitalStatus): Promise<number> {
  const auth = 'Basic ' + Buffer.from(readSecret(`${h.stateDir}/secrets/cluster-rest-credentials`)).toString('base64');
  const peers = await Promise.all(
    ['tag:group', 'freespace'].map(async (name) => {
      const res = await fetch(`${h.cluster.rest}/monitor/metrics/${encodeURIComponent(name)}`, {
        headers: { authorization: auth },
        signal: AbortSignal.timeout(5_000),
      });
      if (!res.ok) throw new Error(`metrics ${name} at ${h.name}: HTTP ${res.status}`);
      const metrics = ((await res.json()) as { peer: string; valid: boolean }[] | null) ?? [];
      return new Set(metrics.filter((m) => m.valid).map((m) => m.peer));
    }),
  );
  return [...peers[0]].filter((p) => peers[1].has(p)).length;
}

describe('stores right after IPFS Cluster restarts', () => {
  let rest: Rest;
  const patientId = `Hospital1MSP:e2e-restart-${randomUUID()}`;
  const asClinician = (n: number) => token(n, `dr-restart-h${n}`, 'clinician');
  const store = async (n: number, bytes: Buffer) =>
    rest.call(n, 'POST', `/api/v1/patients/${patientId}/records?category=lab&title=restart`, {
      token: await asClinician(n),
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await asClinician(1), json: { patientId } }), 201);
  });

  afterAll(async () => {
    await network('up'); // the shared instance stays whole for later suites
  });

  test('after every Cluster peer restarts, `up` returns only when each can allocate', async () => {
    await network('stop', ...CLUSTERS);
    await network('up');
    const s = await status();
    for (const n of [1, 2, 3]) expect(await allocatable(hospital(s, n))).toBeGreaterThanOrEqual(2);
  });

  test('a store at every hospital at once right after `up` answers 201, not 503', async () => {
    await network('stop', ...CLUSTERS);
    await network('up');
    const replies = await Promise.all([1, 2, 3].map((n) => store(n, randomBytes(62_300))));
    for (const r of replies) expectStatus(r, 201);
  });

  test('with Cluster unable to allocate, a store waits, then answers 503 with Retry-After and pins nothing', async () => {
    const h1 = hospital(await status(), 1);
    // Replication min is 2: with two of the three peers down, hospital 1's peer
    // can allocate to itself only, once the others' metrics have expired.
    await network('stop', 'hospital2-cluster', 'hospital3-cluster');
    await eventually('hospital 1 to lose the stopped peers as allocation candidates', async () =>
      (await allocatable(h1)) < 2 ? true : undefined,
    90_000);
    const started = Date.now();
    const r = await store(1, randomBytes(4_096));
    const p = expectProblem(r, 503);
    expect(p.detail).toMatch(/retry/i);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // It waited for allocation (the configured allocation wait) before giving up.
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    const listed = expectStatus(
      await rest.call(1, 'GET', `/api/v1/patients/${patientId}/records`, { token: await asClinician(1) }),
      200,
    );
    const records = Array.isArray(listed) ? listed : (listed.records ?? listed.items);
    expect(records).toHaveLength(3);
  });

  test('a store that arrives while the peers come back waits for allocation and succeeds', async () => {
    // hospital 2 and 3's Cluster peers are still stopped from the test before.
    const up = network('up');
    await eventually(
      "hospital 2 and 3's Cluster peer processes to run again",
      async () => ((await status()).hospitals.slice(1).every((h) => h.cluster.state === 'running') ? true : undefined),
      120_000,
    );
    // The peers run but have not broadcast their metrics yet: the gateway waits for them.
    const r = await store(1, randomBytes(62_300));
    await up;
    expectStatus(r, 201);
  });
});
