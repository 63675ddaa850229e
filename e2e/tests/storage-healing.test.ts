import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { hospital, network, status, type HospitalStatus, type InstanceStatus } from '../support/instance.js';
import { clusterAdd, clusterAuth, ipfsBlocks, ipfsHasBlock } from '../support/ipfs.js';
import { Rest, expectStatus, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Storage heals, and erasure leaves no ciphertext behind (DESIGN §9, THREATS #8).
// A hospital's Cluster peer and Kubo are killed (-9) for longer than
// EHR_CLUSTER_REPIN_AFTER (default 10 s): every blob is back to replication min on the
// others, also those whose pin named only the killed peer and one other. A record
// erased meanwhile is unpinned and its blocks deleted from the surviving repos at once,
// and from the killed hospital's repo once it is back (its gateway's custody outbox
// retries until its node has released the pin).
//
// Cluster repins from the peer closest to the CID, and only with the pins that peer's
// own state holds when the lost peer's ping expires: so before the kill this waits
// until every surviving peer's own state holds the narrowed pins.

const REPIN_AFTER_S = Number(process.env.EHR_CLUSTER_REPIN_AFTER ?? 10);
const MIN = 2;
const KILLED = 3;
const SURVIVORS = [1, 2] as const;

interface PinStatus {
  cid: string;
  peer_map: Record<string, { peername: string; status: string }>;
}

async function cluster(h: HospitalStatus, method: string, p: string): Promise<unknown> {
  const res = await fetch(`${h.cluster.rest}${p}`, { method, headers: { authorization: clusterAuth(h) }, signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${method} ${p} at ${h.name}: ${res.status} ${await res.text()}`);
  return res.json();
}

const pinStatus = (h: HospitalStatus, cid: string) => cluster(h, 'GET', `/pins/${cid}`) as Promise<PinStatus>;
const peerId = async (h: HospitalStatus) => ((await cluster(h, 'GET', '/id')) as { id: string }).id;
/** The pin's allocations in this peer's own state (undefined: the pin has not reached it). */
async function allocations(h: HospitalStatus, cid: string): Promise<string[] | undefined> {
  const res = await fetch(`${h.cluster.rest}/allocations/${cid}`, { headers: { authorization: clusterAuth(h) }, signal: AbortSignal.timeout(30_000) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET /allocations/${cid} at ${h.name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { allocations?: string[] }).allocations ?? [];
}

describe('storage that heals, and erasure that leaves no ciphertext', () => {
  let s: InstanceStatus;
  let rest: Rest;
  const run = randomUUID().slice(0, 8);
  const patients = { 1: `Hospital1MSP:e2e-heal-${run}`, 2: `Hospital2MSP:e2e-heal-${run}` } as const;
  const clinician = (n: 1 | 2) => token(n, `dr-e2e-heal-${run}`, 'clinician');
  const ids: Record<number, string> = {};
  const cids: string[] = [];
  const narrowed: string[] = [];

  async function store(n: 1 | 2, bytes: Buffer): Promise<{ recordId: string; cid: string }> {
    return expectStatus(
      await rest.call(n, 'POST', `/api/v1/patients/${patients[n]}/records?category=lab&title=heal`, {
        token: await clinician(n),
        body: bytes,
        headers: { 'content-type': 'application/pdf' },
      }),
      201,
    );
  }

  async function erase(n: 1 | 2, recordId: string): Promise<void> {
    expectStatus(await rest.call(n, 'DELETE', `/api/v1/records/${recordId}`, { token: await token(n, patients[n], 'patient') }), 200);
  }

  /** Hospitals (by number) whose Cluster peer reports the blob pinned, as hospital n sees it. */
  async function pinnedAt(n: number, cid: string): Promise<number[]> {
    const st = await pinStatus(hospital(s, n), cid);
    return [1, 2, 3].filter((m) => st.peer_map[ids[m]]?.status === 'pinned');
  }

  /** Hospitals (by number, among `of`) whose Kubo repo still holds any of the blocks. */
  async function holding(blocks: string[], of: readonly number[]): Promise<number[]> {
    const out: number[] = [];
    for (const n of of) {
      for (const b of blocks) {
        if (await ipfsHasBlock(hospital(s, n).kubo.rpc, b)) {
          out.push(n);
          break;
        }
      }
    }
    return out;
  }

  function kill(component: 'cluster' | 'kubo'): void {
    const pid = Number(readFileSync(path.join(s.stateDir, 'run', `hospital${KILLED}-${component}.pid`), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
  }

  beforeAll(async () => {
    s = await status();
    rest = await Rest.open();
    for (const n of SURVIVORS) {
      expectStatus(await rest.call(n, 'POST', '/api/v1/patients', { token: await clinician(n), json: { patientId: patients[n] } }), 201);
    }
    for (const n of [1, 2, 3]) ids[n] = await peerId(hospital(s, n));
  }, 60_000);

  afterAll(async () => {
    // Leave the shared instance whole for the suites after this one.
    await network('up');
  }, 300_000);

  test(`a peer gone for longer than the repin threshold (${REPIN_AFTER_S} s): blobs back to replication min, an erasure meanwhile reaches every repo`, async () => {
    for (const n of SURVIVORS) {
      for (let i = 0; i < 2; i++) cids.push((await store(n, randomBytes(300_000 + i))).cid);
    }
    // Two blobs pinned on exactly the doomed peer and one other: only a repin restores them.
    for (const other of SURVIVORS) {
      const cid = await clusterAdd(hospital(s, other), randomBytes(200_000), {
        'replication-min': '2',
        'replication-max': '2',
        'user-allocations': `${ids[KILLED]},${ids[other]}`,
      });
      cids.push(cid);
      narrowed.push(cid);
    }
    for (const cid of narrowed) {
      await eventually(
        `${cid}: every surviving peer's own state allocates it to hospital${KILLED} and one other, and hospital${KILLED} has pinned it`,
        async () => {
          for (const n of SURVIVORS) {
            const a = await allocations(hospital(s, n), cid);
            if (a?.length !== 2 || !a.includes(ids[KILLED])) return undefined;
          }
          return (await pinnedAt(KILLED, cid)).includes(KILLED) ? true : undefined;
        },
        180_000,
        1_000,
      );
    }
    const erased = await store(1, randomBytes(700_000));
    const erasedBlocks = await ipfsBlocks(hospital(s, 1).kubo.rpc, erased.cid);
    expect(erasedBlocks.length).toBeGreaterThan(1);
    for (const cid of [...cids, erased.cid]) {
      await eventually(`${cid} at replication min`, async () => ((await pinnedAt(1, cid)).length >= MIN ? true : undefined), 120_000, 500);
    }
    await eventually(`hospital${KILLED}'s repo holds the blob to be erased`, async () => ((await holding(erasedBlocks, [KILLED])).length === 1 ? true : undefined), 120_000, 500);

    kill('cluster');
    kill('kubo');
    const killedAt = Date.now();
    await erase(1, erased.recordId);

    const healed = await eventually(
      `every blob pinned on ${MIN} hospitals besides hospital${KILLED}`,
      async () => {
        for (const cid of cids) {
          const at = (await pinnedAt(1, cid)).filter((m) => m !== KILLED);
          if (at.length < MIN) return undefined;
        }
        return Date.now() - killedAt;
      },
      REPIN_AFTER_S * 1000 + 120_000,
      1_000,
    );
    process.stderr.write(`[storage-healing] hospital${KILLED} killed: every blob back to ${MIN} replicas on the others after ${healed} ms\n`);
    // Not before the peer had been gone for (at least) half the threshold: repinning is not hasty.
    expect(healed).toBeGreaterThanOrEqual((REPIN_AFTER_S * 1000) / 2 - 1_000);
    for (const cid of narrowed) {
      const a = (await allocations(hospital(s, 1), cid)) ?? [];
      expect(a).not.toContain(ids[KILLED]);
      expect(a.length).toBeGreaterThanOrEqual(MIN);
    }
    // The erasure did not wait for the lost peer: the survivors' repos no longer hold a block of it.
    await eventually('the erased blob gone from the surviving repos', async () => ((await holding(erasedBlocks, SURVIVORS)).length === 0 ? true : undefined), 120_000, 1_000);

    await network('up');
    s = await status();
    expect(hospital(s, KILLED).cluster.state).toBe('running');
    // Back: it reports every blob pinned or remote (none in error), the others still hold
    // replication min, and its own gateway has deleted the erased blob's blocks.
    await eventually(
      `hospital${KILLED}'s Cluster peer recovered`,
      async () => {
        for (const cid of cids) {
          const mine = (await pinStatus(hospital(s, KILLED), cid)).peer_map[ids[KILLED]]?.status;
          if (mine !== 'pinned' && mine !== 'remote') return undefined;
          if ((await pinnedAt(KILLED, cid)).length < MIN) return undefined;
        }
        return true;
      },
      180_000,
      1_000,
    );
    expect(hospital(s, KILLED).cluster.peersSeen).toBe(3);
    await eventually(`the erased blob gone from hospital${KILLED}'s repo too`, async () => ((await holding(erasedBlocks, [1, 2, 3])).length === 0 ? true : undefined), 180_000, 1_000);
    // And it can hold new pins again: a new blob is allocated to it too (replication max 3).
    const fresh = (await store(1, randomBytes(1_000))).cid;
    await eventually(`${fresh} pinned on hospital${KILLED}`, async () => ((await pinnedAt(1, fresh)).includes(KILLED) ? true : undefined), 120_000, 500);
  }, 900_000);

  test('erasure with every hospital up: unpinned everywhere, and no repo holds a block of it', async () => {
    const { recordId, cid } = await store(2, randomBytes(600_000));
    const blocks = await ipfsBlocks(hospital(s, 2).kubo.rpc, cid);
    await eventually('every repo holds the blob', async () => ((await holding(blocks, [1, 2, 3])).length === 3 ? true : undefined), 120_000, 500);
    await erase(2, recordId);
    await eventually(
      `${cid} unpinned on every peer`,
      async () => (Object.values((await pinStatus(hospital(s, 1), cid)).peer_map).every((p) => p.status === 'unpinned') ? true : undefined),
      120_000,
      500,
    );
    await eventually('no repo holds a block of it', async () => {
      const left = await holding(blocks, [1, 2, 3]);
      return left.length === 0 ? true : undefined;
    }, 120_000, 1_000);
    for (const n of [1, 2, 3]) for (const b of blocks) expect(await ipfsHasBlock(hospital(s, n).kubo.rpc, b)).toBe(false);
  }, 300_000);
});
