import type { ChaincodeEvent, Checkpointer, CloseableAsyncIterable } from '@hyperledger/fabric-gateway';
import { checkpointers } from '@hyperledger/fabric-gateway';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Keyring, generateEncryptionKeyPair, unwrapKey, wrapKey } from '../crypto/index.js';
import type { Consent, Hospital, RecordMeta } from '../domain.js';
import type { BlobStore } from '../ports.js';
import type { FabricConnection } from './connection.js';
import { EventFollower } from './event-follower.js';
import type { FabricLedger } from './fabric-ledger.js';

const H1 = 'Hospital1MSP';
const H2 = 'Hospital2MSP';
const h1Keys = generateEncryptionKeyPair();
const h2Keys = generateEncryptionKeyPair();
const hospitals: Hospital[] = [
    { mspId: H1, name: 'hospital1', publicKey: h1Keys.publicKey, registeredAt: '2026-01-01T00:00:00Z' },
    { mspId: H2, name: 'hospital2', publicKey: h2Keys.publicKey, registeredAt: '2026-01-01T00:00:00Z' },
];

function record(n: number): RecordMeta {
    return {
        recordId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        patientId: 'pat-001',
        custodian: H1,
        cid: 'b'.padEnd(59, 'a'),
        size: 100,
        category: 'lab',
        supersedes: null,
        status: 'active',
        createdAt: '2026-01-01T00:00:00Z',
        createdBy: 'dr-1',
    };
}

const consentGranted: ChaincodeEvent = {
    blockNumber: 7n,
    transactionId: 'tx-consent',
    chaincodeName: 'ehr',
    eventName: 'ConsentGranted',
    payload: new TextEncoder().encode(JSON.stringify({ patientId: 'pat-001', grantee: H2, consentId: 'c-1' })),
};

/** Yields the events, then stays open (as a live event stream does) until closed. */
function stream(events: ChaincodeEvent[]): CloseableAsyncIterable<ChaincodeEvent> {
    let closed = false;
    let wake: (() => void) | undefined;
    return {
        close() {
            closed = true;
            wake?.();
        },
        async *[Symbol.asyncIterator]() {
            for (const e of events) if (!closed) yield e;
            await new Promise<void>((resolve) => {
                wake = resolve;
                if (closed) resolve();
            });
        },
    };
}

/** A network whose event stream resumes after the checkpoint, as Fabric's does. */
function network(events: ChaincodeEvent[]) {
    return {
        getChaincodeEvents: async (_name: string, options: { checkpoint: Checkpointer }) => {
            const done = options.checkpoint.getTransactionId();
            const from = options.checkpoint.getBlockNumber() ?? 0n;
            return stream(events.filter((e) => e.blockNumber > from || (e.blockNumber === from && done === undefined)));
        },
    };
}

/** Starts the follower, waits for the condition, and stops it (so its work has settled). */
async function runUntil(f: EventFollower, what: string, condition: () => boolean): Promise<void> {
    f.start();
    try {
        await until(what, condition);
    } finally {
        await f.stop();
    }
}

async function until(what: string, condition: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 5));
    }
}

describe('EventFollower', () => {
    let dir: string;
    let dataKeys: Map<string, Buffer>;
    let delivered: Map<string, Buffer>;
    let attempts: Map<string, number>;
    let inFlight: number;
    let maxInFlight: number;
    let failOnce: Set<string>;
    let expiresAt: string | null;
    let purged: Map<string, number>;

    const ledger = {
        getConsent: async (consentId: string): Promise<Consent> => ({
            consentId,
            patientId: 'pat-001',
            grantee: H2,
            scope: { type: 'all' },
            purposes: ['treatment'],
            grantedAt: new Date().toISOString(),
            expiresAt,
            status: 'active',
            revokedAt: null,
        }),
        // As the chaincode does: no purge while the consent (judged by the clock here) still holds.
        purgeEnvelope: async (recordId: string) => {
            if (expiresAt === null || Date.now() < Date.parse(expiresAt)) throw new Error(`CONFLICT: access to ${recordId} still holds`);
            purged.set(recordId, Date.now());
            return `tx-purge-${recordId}`;
        },
        listHospitals: async () => hospitals,
        listRecords: async () => [...dataKeys.keys()].map((id) => record(Number(id.slice(-12)))),
        readEnvelope: async (_actor: unknown, recordId: string) => wrapKey(dataKeys.get(recordId)!, h1Keys.publicKey, { recordId, mspId: H1 }),
        deliverEnvelope: async (recordId: string, grantee: string, envelope: string) => {
            attempts.set(recordId, (attempts.get(recordId) ?? 0) + 1);
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            try {
                await new Promise((r) => setTimeout(r, 10));
                if (failOnce.delete(recordId)) throw Object.assign(new Error('14 UNAVAILABLE: connection dropped'), { code: 14 });
                if (delivered.has(recordId)) throw new Error(`CONFLICT: ${grantee} already holds ${recordId}`);
                delivered.set(recordId, unwrapKey(envelope, h2Keys.privateKey, { recordId, mspId: grantee }));
                return `tx-deliver-${recordId}`;
            } finally {
                inFlight--;
            }
        },
    };

    interface Setup {
        mspId?: string;
        events?: ChaincodeEvent[];
        concurrency?: number;
    }

    function follower({ mspId = H1, events = [consentGranted], concurrency = 8 }: Setup = {}): EventFollower {
        const contract = {
            getChaincodeName: () => 'ehr',
            evaluate: async (name: string) => {
                if (name !== 'Access:ListHeld') throw new Error(`unexpected ${name}`);
                return new TextEncoder().encode(JSON.stringify(await ledger.listRecords()));
            },
        };
        return new EventFollower({
            connection: { network: network(events), contract } as unknown as FabricConnection,
            ledger: ledger as unknown as FabricLedger,
            blobs: {} as BlobStore,
            mspId,
            keys: new Keyring(mspId === H1 ? h1Keys.privateKey : h2Keys.privateKey),
            checkpointPath: path.join(dir, 'checkpoint.json'),
            expiriesPath: path.join(dir, 'expiries.json'),
            expirySweepMs: 20,
            logger: pino({ level: 'silent' }),
            retryDelayMs: 10,
            concurrency,
        });
    }

    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), 'follower-'));
        dataKeys = new Map(Array.from({ length: 20 }, (_, i) => [record(i + 1).recordId, randomBytes(32)]));
        delivered = new Map();
        attempts = new Map();
        inFlight = 0;
        maxInFlight = 0;
        failOnce = new Set();
        expiresAt = null;
        purged = new Map();
    });

    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('delivers every record of a new consent, several at a time up to the limit, then checkpoints the event', async () => {
        await runUntil(follower({ concurrency: 4 }), '20 deliveries', () => delivered.size === 20);

        expect(maxInFlight).toBe(4);
        for (const [recordId, key] of dataKeys) expect(delivered.get(recordId)?.equals(key)).toBe(true);
        const checkpoint = await checkpointers.file(path.join(dir, 'checkpoint.json'));
        expect(checkpoint.getBlockNumber()).toBe(7n);
        expect(checkpoint.getTransactionId()).toBe('tx-consent');
    });

    it('after an outage in one delivery, retries the event from the checkpoint and misses nothing', async () => {
        const flaky = record(7).recordId;
        failOnce.add(flaky);
        await runUntil(follower({ concurrency: 8 }), '20 deliveries', () => delivered.size === 20);

        expect(attempts.get(flaky)).toBe(2);
        // The retry met the other 19 already delivered (CONFLICT, ignored) and did not deliver them twice.
        expect([...attempts.values()].every((n) => n === 2)).toBe(true);
        expect(delivered.size).toBe(20);
        const checkpoint = await checkpointers.file(path.join(dir, 'checkpoint.json'));
        expect(checkpoint.getTransactionId()).toBe('tx-consent');
    });

    it('runs one delivery at a time when configured so', async () => {
        await runUntil(follower({ concurrency: 1 }), '20 deliveries', () => delivered.size === 20);
        expect(maxInFlight).toBe(1);
    });

    describe('as the grantee of a consent with an expiry', () => {
        const grantedToH2: ChaincodeEvent = { ...consentGranted, transactionId: 'tx-consent-h2' };
        const scheduled = () => JSON.parse(readFileSync(path.join(dir, 'expiries.json'), 'utf8')) as { consentId: string }[];
        /** A file the follower writes, or undefined while it has not written it yet. */
        const written = <T>(file: string): T | undefined => {
            try {
                return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as T;
            } catch {
                return undefined;
            }
        };

        it('purges its envelopes once the consent lapses, not before', async () => {
            expiresAt = new Date(Date.now() + 300).toISOString();
            await runUntil(follower({ mspId: H2, events: [grantedToH2] }), '20 purges', () => purged.size === 20);

            expect(Math.min(...purged.values())).toBeGreaterThanOrEqual(Date.parse(expiresAt));
            expect(delivered.size).toBe(0);
            expect(scheduled()).toEqual([]);
        });

        it('still purges on time after a restart, from the schedule it kept', async () => {
            expiresAt = new Date(Date.now() + 1_000).toISOString();
            await runUntil(follower({ mspId: H2, events: [grantedToH2] }), 'the expiry to be scheduled', () => written<unknown[]>('expiries.json')?.length === 1);
            expect(purged.size).toBe(0);

            // The event is behind the checkpoint now: only the kept schedule can trigger the purge.
            await runUntil(follower({ mspId: H2, events: [grantedToH2] }), '20 purges', () => purged.size === 20);
            expect(scheduled()).toEqual([]);
        });

        it('schedules nothing for a consent without expiry', async () => {
            await runUntil(
                follower({ mspId: H2, events: [grantedToH2] }),
                'the event to be checkpointed',
                () => written<{ transactionId?: string }>('checkpoint.json')?.transactionId === 'tx-consent-h2',
            );
            expect(purged.size).toBe(0);
            expect(written('expiries.json')).toBeUndefined();
        });
    });
});
