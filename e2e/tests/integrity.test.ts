import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { hospital } from '../support/instance.js';
import { blockFile, flipByte, ipfsBlocks } from '../support/ipfs.js';
import { Rest, expectProblem, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Storage heals (DESIGN §9, THREATS #16): a byte flipped in a record's block file in the
// custodian's Kubo repo. Kubo hashes blocks on read (Datastore.HashOnRead), so the read
// fails instead of passing the damage on; the gateway drops the corrupted block
// (repo/verify --drop) and Kubo refetches it over bitswap from a replica (replication min 2).
// `verify` reports what it found — `corrupted`, with a detail saying it was healed from a
// replica — and heals on the way, so the next verify is `intact`. With no intact copy
// anywhere, content is a 503 problem+json before any byte: never a reset or a cut 200.

describe('integrity that heals', () => {
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patientId = `Hospital1MSP:e2e-int-${run}`;
  const clinician = () => token(1, `dr-e2e-int-${run}`, 'clinician');
  const auditor = () => token(1, `auditor-e2e-int-${run}`, 'auditor');

  async function store(document: Buffer): Promise<{ recordId: string; cid: string }> {
    return expectStatus(
      await rest.call(1, 'POST', `/api/v1/patients/${patientId}/records?category=imaging&title=MRI`, {
        token: await clinician(),
        body: document,
        headers: { 'content-type': 'application/pdf' },
      }),
      201,
    );
  }

  /** The record's block files in hospital n's repo (those it holds); the block list comes from the custodian's node. */
  async function blockFiles(n: number, cid: string): Promise<string[]> {
    const blocks = await ipfsBlocks(hospital(rest.instance, 1).kubo.rpc, cid);
    return blocks.map((b) => blockFile(hospital(rest.instance, n), b)).filter((f) => existsSync(f));
  }

  async function corruptions(n: number): Promise<Record<string, number>> {
    const text = await (await fetch(`${rest.url(n)}/metrics`)).text();
    const counts: Record<string, number> = {};
    for (const m of text.matchAll(/^ehr_blob_corruptions_total\{action="(\w+)"\} (\d+)/gm)) counts[m[1]] = Number(m[2]);
    return counts;
  }

  /** Waits until a hospital other than 1 holds every block of the blob (the replica a heal fetches from). */
  async function replicated(cid: string): Promise<void> {
    const h1 = await blockFiles(1, cid);
    expect(h1.length).toBeGreaterThan(0);
    await eventually(`a replica of ${cid} beside hospital1's`, async () => {
      for (const n of [2, 3]) if ((await blockFiles(n, cid)).length >= h1.length) return n;
      return undefined;
    });
  }

  const read = async (recordId: string) => rest.call(1, 'GET', `/api/v1/records/${recordId}/content`, { token: await clinician() });
  const verify = async (recordId: string) => rest.call(1, 'GET', `/api/v1/records/${recordId}/verify`, { token: await auditor() });

  beforeAll(async () => {
    rest = await Rest.open();
    expectStatus(await rest.call(1, 'POST', '/api/v1/patients', { token: await clinician(), json: { patientId } }), 201);
  });

  test('a flipped byte at the custodian: verify reports it corrupted, content is the original bytes from a replica, the next verify is intact', async () => {
    const document = randomBytes(62_000);
    const { recordId, cid } = await store(document);
    await replicated(cid);
    expect(expectStatus(await verify(recordId), 200)).toMatchObject({ state: 'intact', intact: true });
    const before = await corruptions(1);

    const files = await blockFiles(1, cid);
    expect(files.length).toBeGreaterThan(0);
    flipByte(files[0]);

    const found = expectStatus(await verify(recordId), 200);
    expect(found).toMatchObject({ cid, state: 'corrupted', intact: false, status: 'active' });
    expect(found.detail).toMatch(/replica/);

    const content = await read(recordId);
    expectStatus(content, 200);
    expect(content.bytes.equals(document)).toBe(true);

    expect(expectStatus(await verify(recordId), 200)).toMatchObject({ state: 'intact', intact: true });
    const after = await corruptions(1);
    expect(after.detected ?? 0).toBeGreaterThan(before.detected ?? 0);
    expect(after.healed ?? 0).toBeGreaterThan(before.healed ?? 0);
  });

  test('a flipped byte met first by a read: content heals on the way and serves the identical bytes', async () => {
    const document = randomBytes(62_000);
    const { recordId, cid } = await store(document);
    await replicated(cid);
    const before = await corruptions(1);
    flipByte((await blockFiles(1, cid))[0], 100);

    const content = await read(recordId);
    expectStatus(content, 200);
    expect(content.bytes.equals(document)).toBe(true);
    expect((await corruptions(1)).healed ?? 0).toBeGreaterThan(before.healed ?? 0);
  });

  test('every copy corrupted: content is a 503 problem+json before any byte, never a reset or a cut 200', async () => {
    const { recordId, cid } = await store(randomBytes(62_000));
    await replicated(cid);
    const everyCopy = (await Promise.all([1, 2, 3].map((n) => blockFiles(n, cid)))).flat();
    let flipped = 0;
    for (const file of everyCopy) {
      flipByte(file);
      flipped++;
    }
    expect(flipped).toBeGreaterThanOrEqual(2);
    const before = await corruptions(1);

    const content = await read(recordId);
    const problem = expectProblem(content, 503);
    expect(problem).toMatchObject({ dependency: 'ipfs', reason: 'blob-corrupted' });
    expect(content.headers.get('retry-after')).toBeTruthy();
    expect((await corruptions(1)).unrecoverable ?? 0).toBeGreaterThan(before.unrecoverable ?? 0);
  }, 120_000);
});
