import type { ChaincodeEvent, Checkpointer, CloseableAsyncIterable } from '@hyperledger/fabric-gateway';
import { checkpointers } from '@hyperledger/fabric-gateway';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { Keyring, generateEncryptionKeyPair, unwrapKey, wrapKey } from '../crypto/index.js';
import type { Consent, Hospital, RecordMeta } from '../domain.js';
import { BlobStillPinnedError, type BlobStore, type CustodyLedger } from '../ports.js';
import { EventFollower } from './event-follower.js';

const H1 = 'Hospital1MSP';
const H2 = 'Hospital2MSP';
const H3 = 'Hospital3MSP';
const h1Keys = generateEncryptionKeyPair();
const h2Keys = generateEncryptionKeyPair();
const h3Keys = generateEncryptionKeyPair();
const keysOf: Record<string, { publicKey: string; privateKey: string }> = { [H1]: h1Keys, [H2]: h2Keys, [H3]: h3Keys };
const hospitals: Hospital[] = [
    { mspId: H1, name: 'hospital1', publicKey: h1Keys.publicKey, registeredAt: '2026-01-01T00:00:00Z' },
    { mspId: H2, name: 'hospital2', publicKey: h2Keys.publicKey, registeredAt: '2026-01-01T00:00:00Z' },
    { mspId: H3, name: 'hospital3', publicKey: h3Keys.publicKey, registeredAt: '2026-01-01T00:00:00Z' },
];

function record(n: number): RecordMeta {
    return {
        recordId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
        patientId: 'pat-001',
        custodian: H1,
        cid: 'b'.padEnd(59, 'a'),
        ciphertextSize: 100,
        category: 'lab',
        supersedes: null,
        status: 'active',
        createdAt: '2026-01-01T00:00:00Z',
        createdBy: 'dr-1',
    };
}

const event = (blockNumber: bigint, eventName: string, payload: object, transactionId = `tx-${blockNumber}`): ChaincodeEvent => ({
    blockNumber,
    transactionId,
    chaincodeName: 'ehr',
    eventName,
    payload: new TextEncoder().encode(JSON.stringify(payload)),
});
const consentGranted = event(7n, 'ConsentGranted', { patientId: 'pat-001', grantee: H2, consentId: 'c-1' }, 'tx-consent');

/** Yields the events, then stays open (as a live event stream does) until closed. */
function stream(events: ChaincodeEvent[]): CloseableAsyncIterable<ChaincodeEvent> {
    let closed = false;
    let wake: (() => void) | undefined;
    return {
        close() {
            closed = true;
            wake?.();
        },
        [Symbol.dispose]() {
            this.close();
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
    /** grantee → recordId → the data key it received. */
    let delivered: Map<string, Map<string, Buffer>>;
    let batches: { grantee: string; size: number; by: string }[];
    /** Hospitals whose peer is down: deliveries to them fail. */
    let down: Set<string>;
    let expiresAt: string | null;
    let purged: Map<string, number>;
    let unpinned: string[];
    /** CIDs discarded from the node, each after a refusal while still pinned (the unpin not yet there). */
    let discarded: string[];
    let stillPinned: string[];
    let home: string;
    /** getPatient calls: what a custody look-up costs. */
    let patientReads = 0;

    const received = (grantee: string) => delivered.get(grantee) ?? new Map<string, Buffer>();

    /** The ledger as the follower sees it through its port, acting as `me`. */
    const ledgerFor = (me: string): CustodyLedger => ({
        listHospitals: async () => hospitals,
        getPatient: async (_a, patientId) => {
            patientReads++;
            return { patientId, homeHospital: home, registeredAt: '2026-01-01T00:00:00Z' } as never;
        },
        getRecord: async (_a, recordId) => ({ ...record(Number(recordId.slice(-12))), status: 'erased' }),
        listRecords: async () => [...dataKeys.keys()].map((id) => record(Number(id.slice(-12)))),
        listConsents: async () =>
            [...delivered.keys()].map((grantee) => ({ grantee, status: 'active' }) as Consent),
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
        readOwnEnvelopes: async (recordIds, exceptHeldBy) =>
            new Map(
                recordIds
                    .filter((recordId) => !(exceptHeldBy && received(exceptHeldBy).has(recordId)))
                    .map((recordId) => [recordId, wrapKey(dataKeys.get(recordId)!, keysOf[me].publicKey, { recordId, mspId: me })]),
            ),
        deliverEnvelopes: async (grantee, envelopes) => {
            await new Promise((r) => setTimeout(r, 5));
            if (down.has(grantee)) throw Object.assign(new Error(`14 UNAVAILABLE: ${grantee}'s peer does not answer`), { code: 14 });
            batches.push({ grantee, size: envelopes.size, by: me });
            const held = delivered.get(grantee) ?? new Map<string, Buffer>();
            delivered.set(grantee, held);
            const out = { txId: `tx-${batches.length}`, delivered: [] as string[], skipped: [] as string[], refused: {} };
            for (const [recordId, envelope] of envelopes) {
                if (held.has(recordId)) out.skipped.push(recordId);
                else {
                    held.set(recordId, unwrapKey(envelope, keysOf[grantee].privateKey, { recordId, mspId: grantee }));
                    out.delivered.push(recordId);
                }
            }
            return out;
        },
        // As the chaincode does: no purge while the consent (judged by the clock here) still holds.
        purgeEnvelope: async (recordId: string) => {
            if (expiresAt === null || Date.now() < Date.parse(expiresAt)) throw new Error(`CONFLICT: access to ${recordId} still holds`);
            purged.set(recordId, Date.now());
            return `tx-purge-${recordId}`;
        },
        listHeld: async () => [...dataKeys.keys()],
    });

    interface Setup {
        mspId?: string;
        events?: ChaincodeEvent[];
        batchSize?: number;
        homeDelayMs?: number;
    }

    function follower({ mspId = H1, events = [consentGranted], batchSize = 500, homeDelayMs = 5_000 }: Setup = {}): EventFollower {
        return new EventFollower({
            events: network(events),
            chaincodeName: 'ehr',
            ledger: ledgerFor(mspId),
            blobs: {
                unpin: async (cid: string) => {
                    unpinned.push(cid);
                },
                discard: async (cid: string) => {
                    if (!stillPinned.includes(cid)) {
                        stillPinned.push(cid);
                        throw new BlobStillPinnedError(cid);
                    }
                    discarded.push(cid);
                    return 3;
                },
            } as BlobStore,
            mspId,
            keys: new Keyring(keysOf[mspId].privateKey),
            checkpointPath: path.join(dir, 'checkpoint.json'),
            expiriesPath: path.join(dir, 'expiries.json'),
            expirySweepMs: 20,
            logger: pino({ level: 'silent' }),
            retryDelayMs: 10,
            concurrency: 4,
            custody: {
                journalPath: path.join(dir, 'custody.json'),
                statusPath: path.join(dir, 'custody-status.json'),
                batchSize,
                laneConcurrency: 1,
                initialBackoffMs: 20,
                maxBackoffMs: 100,
                homeDelayMs,
            },
        });
    }

    const checkpoint = () => checkpointers.file(path.join(dir, 'checkpoint.json'));

    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), 'follower-'));
        dataKeys = new Map(Array.from({ length: 20 }, (_, i) => [record(i + 1).recordId, randomBytes(32)]));
        delivered = new Map();
        batches = [];
        down = new Set();
        expiresAt = null;
        purged = new Map();
        unpinned = [];
        discarded = [];
        stillPinned = [];
        home = H2;
    });

    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('delivers every record of a new consent in one batch transaction, and checkpoints the event', async () => {
        await runUntil(follower(), '20 deliveries', () => received(H2).size === 20);

        for (const [recordId, key] of dataKeys) expect(received(H2).get(recordId)?.equals(key)).toBe(true);
        expect(batches).toEqual([{ grantee: H2, size: 20, by: H1 }]);
        expect((await checkpoint()).getTransactionId()).toBe('tx-consent');
    });

    it('splits deliveries into batches of the configured size', async () => {
        await runUntil(follower({ batchSize: 8 }), '20 deliveries', () => received(H2).size === 20);
        expect(batches.map((b) => b.size)).toEqual([8, 8, 4]);
    });

    it('a grantee that is down holds up no one: the next consent is delivered, the checkpoint moves on, and the first is delivered once it is back', async () => {
        down.add(H3);
        const events = [
            event(7n, 'ConsentGranted', { patientId: 'pat-001', grantee: H3, consentId: 'c-3' }),
            event(8n, 'ConsentGranted', { patientId: 'pat-001', grantee: H2, consentId: 'c-2' }),
        ];
        const f = follower({ events });
        f.start();
        try {
            await until('20 deliveries to H2', () => received(H2).size === 20);
            await until('the second event to be checkpointed', () => readCheckpoint()?.blockNumber === '8');
            await until('H3 to have failed twice', () => (f.outbox.stats().retrying > 0 ? true : false));
            expect(f.outbox.stats().byKind.deliver).toBe(20);
            // The status file follows the queue within its interval (1 s).
            const statusQueued = () => {
                try {
                    return (JSON.parse(readFileSync(path.join(dir, 'custody-status.json'), 'utf8')) as { queued: number }).queued;
                } catch {
                    return 0;
                }
            };
            await until('the status file to show the queued deliveries to H3', () => statusQueued() > 0);
            down.delete(H3);
            await until('20 deliveries to H3', () => received(H3).size === 20);
            await until('the outbox to empty', () => f.outbox.stats().queued === 0);
        } finally {
            await f.stop();
        }
    });

    it('the tasks survive a restart: recorded before the checkpoint, run by the next process', async () => {
        down.add(H2);
        await runUntil(follower(), 'the event to be checkpointed', () => readCheckpoint()?.transactionId === 'tx-consent');
        expect(received(H2).size).toBe(0);
        down.delete(H2);
        // The event is behind the checkpoint now: only the journal knows the work.
        await runUntil(follower(), '20 deliveries', () => received(H2).size === 20);
    });

    it('the home hospital delivers another custodian’s records too, after a delay; what the custodian delivered is skipped', async () => {
        const events = [event(7n, 'ConsentGranted', { patientId: 'pat-001', grantee: H3, consentId: 'c-3' })];
        // Hospital 1 (the custodian) is down: hospital 2, home, serves the grantee.
        await runUntil(follower({ mspId: H2, events, homeDelayMs: 50 }), '20 deliveries from the home', () => received(H3).size === 20);
        expect(batches).toEqual([{ grantee: H3, size: 20, by: H2 }]);
        for (const [recordId, key] of dataKeys) expect(received(H3).get(recordId)?.equals(key)).toBe(true);
    });

    it('the home hospital submits nothing for records the custodian delivered already', async () => {
        const events = [event(7n, 'ConsentGranted', { patientId: 'pat-001', grantee: H3, consentId: 'c-3' })];
        delivered.set(H3, new Map(dataKeys));
        const f = follower({ mspId: H2, events, homeDelayMs: 200 });
        f.start();
        try {
            await until('the grant to be expanded', () => f.outbox.stats().byKind.deliver === 20);
            await until('the outbox to empty', () => f.outbox.stats().queued === 0);
        } finally {
            await f.stop();
        }
        expect(batches).toEqual([]);
    });

    it('a record created under a consent goes to the grantee; an erasure purges, unpins and discards the blocks', async () => {
        home = H3;
        delivered.set(H2, new Map()); // H2 holds a consent
        const { recordId, cid } = record(3);
        const events = [
            event(7n, 'RecordCreated', { recordId, patientId: 'pat-001', custodian: H1, homeHospital: H3, holders: [H1, H3] }),
            event(9n, 'RecordErased', { recordId, patientId: 'pat-001', custodian: H1, erasedBy: H1, cid }),
        ];
        expiresAt = new Date(Date.now() - 1).toISOString(); // purges allowed
        await runUntil(
            follower({ events }),
            'delivery, purge, unpin and discard',
            () => received(H2).has(recordId) && purged.has(recordId) && unpinned.length === 1 && discarded.length === 1,
        );
        expect(batches).toEqual([{ grantee: H2, size: 1, by: H1 }]);
        // Refused once while the node still pinned it, then retried by the outbox.
        expect(stillPinned).toEqual([cid]);
        expect(discarded).toEqual([cid]);
    });

    it('a grantee that got its envelope in the record\'s own transaction (a holder) is not delivered to again', async () => {
        home = H3;
        delivered.set(H2, new Map()); // H2 holds a consent
        const { recordId } = record(5);
        const events = [event(7n, 'RecordCreated', { recordId, patientId: 'pat-001', custodian: H1, homeHospital: H3, holders: [H1, H2, H3] })];
        const f = follower({ events });
        f.start();
        try {
            await until('the event to be checkpointed', () => readCheckpoint()?.blockNumber === '7');
            await until('the created task to be done', () => f.outbox.stats().queued === 0);
        } finally {
            await f.stop();
        }
        expect(batches).toEqual([]);
    });

    it('the grantee holding an envelope from the record\'s own transaction looks nothing up; an event without homeHospital is handled as before', async () => {
        home = H3;
        const { recordId } = record(6);
        const created = (payload: Record<string, unknown>) => [event(7n, 'RecordCreated', { recordId, patientId: 'pat-001', custodian: H1, holders: [H1, H2, H3], ...payload })];
        for (const [payload, reads] of [[{ homeHospital: H3 }, 0], [{}, 1]] as const) {
            patientReads = 0;
            const f = follower({ mspId: H2, events: created(payload) });
            f.start();
            try {
                await until('the event to be checkpointed', () => readCheckpoint()?.blockNumber === '7');
                await until('the outbox to empty', () => f.outbox.stats().queued === 0);
            } finally {
                await f.stop();
            }
            expect(patientReads).toBe(reads);
            rmSync(path.join(dir, 'checkpoint.json'), { force: true });
            rmSync(path.join(dir, 'custody.json'), { force: true });
        }
        expect(batches).toEqual([]);
    });

    it('an erasure at another custodian: this hospital discards its replica of the blocks, and unpins nothing', async () => {
        const { recordId, cid } = record(4);
        const events = [event(9n, 'RecordErased', { recordId, patientId: 'pat-001', custodian: H1, erasedBy: H1, cid })];
        await runUntil(follower({ mspId: H3, events }), 'the discard', () => discarded.length === 1);
        expect(unpinned).toEqual([]);
        expect(discarded).toEqual([cid]);
    });

    const departed = event(11n, 'HospitalDeparted', { mspId: H2, patientIds: ['pat-001'] });

    it('when this hospital leaves the consortium it purges the envelopes its revoked consents gave it', async () => {
        expiresAt = new Date(Date.now() - 1).toISOString(); // the consents no longer hold: purges allowed
        await runUntil(follower({ mspId: H2, events: [departed] }), '20 purges', () => purged.size === 20);
        expect(batches).toEqual([]);
    });

    it('another hospital leaving makes this one purge nothing', async () => {
        expiresAt = new Date(Date.now() - 1).toISOString();
        await runUntil(follower({ mspId: H3, events: [departed] }), 'the event to be handled', () => written<unknown>('checkpoint.json') !== undefined);
        // The journal is written before the checkpoint moves past the event: no task was queued.
        expect(JSON.stringify(written<unknown>('custody.json') ?? [])).not.toContain('purge');
        expect(purged.size).toBe(0);
    });

    describe('as the grantee of a consent with an expiry', () => {
        const grantedToH2: ChaincodeEvent = { ...consentGranted, transactionId: 'tx-consent-h2' };
        const scheduled = () => JSON.parse(readFileSync(path.join(dir, 'expiries.json'), 'utf8')) as { consentId: string }[];

        it('purges its envelopes once the consent lapses, not before', async () => {
            expiresAt = new Date(Date.now() + 300).toISOString();
            await runUntil(follower({ mspId: H2, events: [grantedToH2] }), '20 purges', () => purged.size === 20);

            expect(Math.min(...purged.values())).toBeGreaterThanOrEqual(Date.parse(expiresAt));
            expect(batches).toEqual([]);
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

    /** A file the follower writes, or undefined while it has not written it yet. */
    function written<T>(file: string): T | undefined {
        try {
            return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as T;
        } catch {
            return undefined;
        }
    }

    function readCheckpoint() {
        return written<{ blockNumber?: string; transactionId?: string }>('checkpoint.json');
    }
});
