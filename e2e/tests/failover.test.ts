import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import { hospital, network, status, type InstanceStatus } from '../support/instance.js';
import { describeReply, expectStatus, Rest, token } from '../support/rest.js';
import { eventually } from '../support/tools.js';

// Writes fail over (gateway/src/fabric/resilient.ts): with one hospital's peer and orderer
// gone, or the Raft leader killed mid-batch, clients of the other gateways see no error.

interface Write {
    hospital: number;
    startedAt: number;
    ms: number;
    status: number;
    recordId?: string;
    failure?: string;
}

const HOSPITALS = [1, 2, 3] as const;
let s: InstanceStatus;
let rest: Rest;

/** GET of an orderer's operations /metrics with the hospital's admin client certificate (its /metrics wants one). */
function ordererMetrics(n: number): Promise<string> {
    const h = hospital(s, n);
    return new Promise((resolve, reject) => {
        const req = request(
            `${h.orderer.operations}/metrics`,
            { cert: readFileSync(h.adminTls.cert), key: readFileSync(h.adminTls.key), ca: readFileSync(h.adminTls.ca), timeout: 2_000 },
            (res) => {
                const chunks: Buffer[] = [];
                res.on('data', (c: Buffer) => chunks.push(c));
                res.on('end', () =>
                    res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(`HTTP ${res.statusCode}`)),
                );
                res.on('error', reject);
            },
        );
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', reject);
        req.end();
    });
}

async function isLeader(n: number): Promise<boolean | undefined> {
    try {
        const text = await ordererMetrics(n);
        const line = text.split('\n').find((l) => l.startsWith('consensus_etcdraft_is_leader') && l.includes(`channel="${s.channel}"`));
        return line === undefined ? undefined : Number(line.trim().split(/\s+/).pop()) === 1;
    } catch {
        return undefined; // not running
    }
}

/** The hospital whose orderer leads the channel's Raft cluster, among `candidates`, once exactly one does. */
async function leader(candidates: readonly number[]): Promise<number> {
    return eventually(
        'one Raft leader',
        async () => {
            const leaders: number[] = [];
            for (const n of candidates) if (await isLeader(n)) leaders.push(n);
            return leaders.length === 1 ? leaders[0] : undefined;
        },
        60_000,
    );
}

/** Every gateway answers /health 200 with every dependency up. */
async function healthy(): Promise<void> {
    for (const n of HOSPITALS) {
        await eventually(
            `hospital${n}'s gateway to be healthy`,
            async () => {
                const r = await rest.call(n, 'GET', '/health');
                return r.status === 200 ? true : undefined;
            },
            180_000,
            500,
        );
    }
}

async function restore(): Promise<void> {
    await network('up');
    await healthy();
    await leader(HOSPITALS);
}

async function newPatient(n: number): Promise<string> {
    const r = await rest.call(n, 'POST', '/api/v1/patients', { token: await token(n, 'fo-clinician', 'clinician'), json: {} });
    return expectStatus<{ patientId: string }>(r, 201).patientId;
}

/** Writers storing small documents in a loop at the given hospitals until stopped. */
function writers(spec: { hospital: number; patientId: string }[], perHospital: number) {
    const writes: Write[] = [];
    let stopped = false;
    const loop = async (n: number, patientId: string) => {
        const jwt = await token(n, 'fo-clinician', 'clinician');
        while (!stopped) {
            const startedAt = Date.now();
            try {
                const r = await rest.call(n, 'POST', `/api/v1/patients/${patientId}/records?category=note&title=failover`, {
                    token: jwt,
                    body: randomBytes(4096),
                    headers: { 'content-type': 'application/octet-stream' },
                });
                writes.push({
                    hospital: n,
                    startedAt,
                    ms: Date.now() - startedAt,
                    status: r.status,
                    ...(r.status === 201 ? { recordId: (r.body as { recordId: string }).recordId } : { failure: describeReply(r) }),
                });
            } catch (err) {
                writes.push({ hospital: n, startedAt, ms: Date.now() - startedAt, status: 0, failure: (err as Error).message });
            }
        }
    };
    const running = spec.flatMap(({ hospital: n, patientId }) => Array.from({ length: perHospital }, () => loop(n, patientId)));
    return {
        writes,
        /** Waits until `count` writes have been answered that started at or after `since`. */
        async answeredSince(since: number, count: number, timeoutMs = 180_000) {
            await eventually(`${count} writes answered after the failure`, async () =>
                writes.filter((w) => w.startedAt >= since).length >= count ? true : undefined,
            timeoutMs, 200);
        },
        async stop() {
            stopped = true;
            await Promise.all(running);
        },
    };
}

function summary(writes: Write[], since: number) {
    const after = writes.filter((w) => w.startedAt + w.ms >= since);
    const ms = after.map((w) => w.ms).sort((a, b) => a - b);
    return {
        total: writes.length,
        answeredAfterFailure: after.length,
        failed: writes.filter((w) => w.status !== 201).length,
        maxMs: ms[ms.length - 1] ?? 0,
        p50Ms: ms[Math.floor(ms.length / 2)] ?? 0,
    };
}

/** Every acknowledged record is its own (a retry never stores twice) and reads back at its hospital. */
async function expectReadable(writes: Write[]): Promise<void> {
    const ids = writes.flatMap((w) => (w.recordId ? [w.recordId] : []));
    expect(new Set(ids).size).toBe(ids.length);
    for (const w of writes.filter((x) => x.recordId)) {
        const r = await rest.call(w.hospital, 'GET', `/api/v1/records/${w.recordId}`, { token: await token(w.hospital, 'fo-clinician', 'clinician') });
        expect({ recordId: w.recordId, reply: `${r.status} ${r.status === 200 ? '' : describeReply(r)}` }).toEqual({ recordId: w.recordId, reply: '200 ' });
    }
}

describe('writes fail over', () => {
    beforeAll(async () => {
        s = await status();
        rest = new Rest(s);
        await healthy();
    });

    afterAll(async () => {
        // Leave the shared instance whole for later suites.
        await restore();
    }, 300_000);

    test("with hospital 3's peer and orderer stopped, hospitals 1 and 2 store without a single failed write", async () => {
        const patients = [
            { hospital: 1, patientId: await newPatient(1) },
            { hospital: 2, patientId: await newPatient(2) },
        ];
        const w = writers(patients, 2);
        try {
            await w.answeredSince(0, 4);
            const stopping = Date.now();
            await network('stop', 'hospital3-peer', 'hospital3-orderer');
            await w.answeredSince(Date.now(), 24);
            await w.stop();
            const result = summary(w.writes, stopping);
            process.stderr.write(`[failover] hospital 3 stopped: ${JSON.stringify(result)}\n`);
            expect(w.writes.filter((x) => x.status !== 201)).toEqual([]);
            expect(result.answeredAfterFailure).toBeGreaterThanOrEqual(24);
            await expectReadable(w.writes);
        } finally {
            await w.stop();
            await restore();
        }
    }, 400_000);

    test('killing the Raft leader mid-batch loses no acknowledged write, fails none and slows none past 15 s', async () => {
        const killed = await leader(HOSPITALS);
        const patients = await Promise.all(HOSPITALS.map(async (n) => ({ hospital: n, patientId: await newPatient(n) })));
        const w = writers(patients, 2);
        let electedInMs = -1;
        try {
            await w.answeredSince(0, 6);
            const pidFile = path.join(s.stateDir, 'run', `hospital${killed}-orderer.pid`);
            const pid = Number(readFileSync(pidFile, 'utf8').trim());
            const killedAt = Date.now();
            process.kill(pid, 'SIGKILL');
            const others = HOSPITALS.filter((n) => n !== killed);
            await leader(others);
            electedInMs = Date.now() - killedAt;
            await w.answeredSince(Date.now(), 30);
            await w.stop();
            const result = summary(w.writes, killedAt);
            process.stderr.write(`[failover] leader hospital${killed}'s orderer killed: new leader in ${electedInMs} ms; ${JSON.stringify(result)}\n`);
            expect(w.writes.filter((x) => x.status !== 201)).toEqual([]);
            expect(w.writes.filter((x) => x.ms > 15_000)).toEqual([]);
        } finally {
            await w.stop();
        }
        await expectReadable(w.writes);
    }, 400_000);
});
