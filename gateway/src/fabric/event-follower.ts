import { checkpointers, type ChaincodeEvent, type Checkpointer, type CloseableAsyncIterable } from '@hyperledger/fabric-gateway';
import type { Logger } from 'pino';
import { type Keyring, wrapKeys } from '../crypto/index.js';
import type { Actor } from '../domain.js';
import { type BlobStore, type CustodyLedger, DependencyUnavailableError } from '../ports.js';
import { BatchedCheckpoint } from './batched-checkpoint.js';
import { CustodyOutbox, type CustodyKind, type CustodyTask, type OutboxStats, type TaskOutcome } from './custody-outbox.js';
import { codedMessage, TransactionConflictError, TransactionInvalidError } from './errors.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { writeStateFile } from './state-file.js';

/** Where the follower reads chaincode events from (the peer's event service). */
export interface ChaincodeEventSource {
    getChaincodeEvents(
        chaincodeName: string,
        options: { checkpoint: Checkpointer; startBlock: bigint },
    ): Promise<CloseableAsyncIterable<ChaincodeEvent>>;
}

export interface CustodyOptions {
    /** The outbox journal (beside the checkpoint by default). */
    journalPath: string;
    /** A small JSON summary of the outbox for `network.sh status`. */
    statusPath?: string;
    /** Deliveries per batch transaction (Access:DeliverEnvelopes). */
    batchSize: number;
    /** Batches in flight per grantee. */
    laneConcurrency: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    /**
     * How long the home hospital waits before delivering records it is not the
     * custodian of: normally the custodian has delivered by then (the home's batch
     * is then all skipped); when the custodian is down, the grantee is served anyway.
     */
    homeDelayMs: number;
}

export interface EventFollowerOptions {
    events: ChaincodeEventSource;
    chaincodeName: string;
    ledger: CustodyLedger;
    blobs: BlobStore;
    mspId: string;
    /** This hospital's encryption keys, current and kept after rotations. */
    keys: Keyring;
    checkpointPath: string;
    /** Where the consents granted to this hospital with an expiry are kept (see ExpirySchedule). */
    expiriesPath: string;
    /** How often lapsed consents are looked for. */
    expirySweepMs: number;
    logger: Logger;
    /** Delay before resuming from the checkpoint after a failure. */
    retryDelayMs: number;
    /** Custody tasks (batches or single tasks) in flight at once; lanes of different hospitals never wait for each other. */
    concurrency: number;
    custody: CustodyOptions;
    /** After each custody attempt (metrics). */
    onCustodyAttempt?: (kind: CustodyKind, outcome: 'done' | 'failed', tasks: number) => void;
    /** Every chaincode event, as followed (e.g. for live views, vitals/); must return at once. */
    onEvent?: (name: string, payload: Record<string, unknown>) => void;
}

/** The follower acts as the hospital itself, not for a person. */
const SYSTEM: Actor = { id: 'gateway-event-follower', role: 'admin' };
const utf8 = new TextDecoder();

/** The chaincode's refusal code, read by the gateway's one parser (fabric/errors.ts). */
const chaincodeCode = (err: unknown): string | undefined => codedMessage(err)?.code;

/** gRPC UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED / ABORTED, or a network error reaching IPFS. */
function isTransient(err: unknown): boolean {
    if (chaincodeCode(err) !== undefined) return false;
    if (err instanceof DependencyUnavailableError || err instanceof TransactionConflictError || err instanceof TransactionInvalidError) return true;
    const e = err as { code?: number | string; name?: string };
    if (typeof e?.code === 'number') return [4, 8, 10, 14].includes(e.code);
    if (e?.name === 'DependencyUnavailableError' || e?.name === 'TransactionInvalidError') return true;
    return typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|UND_ERR)/.test(e.code);
}

/** A chaincode refusal is final: retrying gives the same answer. */
const done: TaskOutcome = { done: true };
const failed = (err: unknown): TaskOutcome => ({ done: false, error: (err as Error)?.message ?? String(err) });

/**
 * Follows the chaincode's events from a persisted checkpoint and records the
 * hospital's custody work in a durable outbox (DESIGN §9): deliver envelopes to
 * new grantees (as custodian, and as the patient's home hospital, which holds an
 * envelope too), purge this hospital's envelopes when its access ends, unpin
 * erased blobs it is custodian of. An event is checkpointed once its tasks are
 * recorded; each task then runs, and retries, on its own, so one unreachable
 * hospital never holds up the others.
 */
export class EventFollower {
    readonly #o: EventFollowerOptions;
    #events: CloseableAsyncIterable<ChaincodeEvent> | undefined;
    #stopped = false;
    #done: Promise<void> | undefined;
    readonly #expiries: ExpirySchedule;
    readonly #outbox: CustodyOutbox;
    #sweepTimer: NodeJS.Timeout | undefined;
    #sweeping: Promise<void> = Promise.resolve();

    constructor(options: EventFollowerOptions) {
        this.#o = options;
        this.#expiries = new ExpirySchedule(options.expiriesPath);
        const statusPath = options.custody.statusPath;
        this.#outbox = new CustodyOutbox({
            path: options.custody.journalPath,
            execute: (tasks) => this.#execute(tasks),
            concurrency: options.concurrency,
            batchSize: options.custody.batchSize,
            laneConcurrency: options.custody.laneConcurrency,
            initialBackoffMs: options.custody.initialBackoffMs,
            maxBackoffMs: options.custody.maxBackoffMs,
            onAttempt: options.onCustodyAttempt,
            onStatus: statusPath ? (stats) => writeStatus(statusPath, stats) : undefined,
        });
    }

    /** The outbox, for metrics and tests. */
    get outbox(): CustodyOutbox {
        return this.#outbox;
    }

    start(): void {
        this.#outbox.start();
        this.#done = this.#run();
        const sweep = () => {
            this.#sweeping = this.#sweeping.then(() => this.#sweepExpired());
        };
        sweep();
        this.#sweepTimer = setInterval(sweep, this.#o.expirySweepMs);
        this.#sweepTimer.unref();
    }

    async stop(): Promise<void> {
        this.#stopped = true;
        clearInterval(this.#sweepTimer);
        this.#events?.close();
        await Promise.all([this.#done, this.#sweeping]);
        await this.#outbox.stop();
    }

    async #run(): Promise<void> {
        const checkpoint = new BatchedCheckpoint(await checkpointers.file(this.#o.checkpointPath), () => this.#outbox.flush());
        while (!this.#stopped) {
            try {
                await this.#follow(checkpoint);
            } catch (err) {
                if (this.#stopped) break;
                this.#o.logger.warn({ err: { message: (err as Error).message } }, 'event follower failed; resuming from checkpoint');
                await checkpoint.flush().catch(() => undefined);
                await new Promise((r) => setTimeout(r, this.#o.retryDelayMs));
            }
        }
        await checkpoint.flush();
    }

    async #follow(checkpoint: BatchedCheckpoint): Promise<void> {
        // The stream resumes after what is on disk: progress noted since is written first.
        await checkpoint.flush();
        this.#events = await this.#o.events.getChaincodeEvents(this.#o.chaincodeName, {
            checkpoint: checkpoint.checkpointer,
            startBlock: BigInt(0),
        });
        try {
            for await (const event of this.#events) {
                try {
                    await this.#handle(event);
                } catch (err) {
                    // Only this hospital's own peer is asked here (expiry lookups): an
                    // outage of it is retried from the checkpoint; anything else is skipped.
                    if (isTransient(err)) throw err;
                    this.#o.logger.error(
                        { event: event.eventName, txId: event.transactionId, err: { message: (err as Error).message } },
                        'event could not be handled; skipped',
                    );
                }
                checkpoint.note(event);
            }
        } finally {
            this.#events.close();
        }
    }

    /** Records the event's custody tasks; does none of the work itself. */
    async #handle(event: ChaincodeEvent): Promise<void> {
        const payload = JSON.parse(utf8.decode(event.payload)) as Record<string, unknown>;
        try {
            this.#o.onEvent?.(event.eventName, payload);
        } catch (err) {
            this.#o.logger.warn({ event: event.eventName, err: { message: (err as Error).message } }, 'an event listener failed');
        }
        const log = this.#o.logger.child({ event: event.eventName, txId: event.transactionId, block: Number(event.blockNumber) });
        const me = this.#o.mspId;
        switch (event.eventName) {
            case 'ConsentGranted':
                if (payload.grantee === me) await this.#scheduleExpiry(String(payload.consentId), log);
                else this.#outbox.add([{ kind: 'grant', patientId: String(payload.patientId), grantee: String(payload.grantee) }]);
                break;
            case 'RequestDecided':
                if (payload.status !== 'approved') break;
                if (payload.requester === me) await this.#scheduleExpiry(String(payload.consentId), log);
                else this.#outbox.add([{ kind: 'grant', patientId: String(payload.patientId), grantee: String(payload.requester) }]);
                break;
            case 'RecordCreated': {
                // The custodian and the home hospital may deliver it to grantees; a grantee that got
                // its envelope in the record's own transaction has nothing to do. (Events from
                // before `homeHospital` was carried: every holder looks, as it did then.)
                const holders = Array.isArray(payload.holders) ? (payload.holders as unknown[]).map(String) : undefined;
                const deliverer =
                    typeof payload.homeHospital === 'string' ? payload.homeHospital === me : holders === undefined || holders.includes(me);
                if (payload.custodian === me || deliverer) {
                    this.#outbox.add([
                        {
                            kind: 'created',
                            recordId: String(payload.recordId),
                            patientId: String(payload.patientId),
                            custodian: String(payload.custodian),
                            ...(holders ? { holders } : {}),
                        },
                    ]);
                }
                break;
            }
            case 'ConsentRevoked':
                if (payload.grantee === me) {
                    this.#outbox.add([{ kind: 'purgePatient', patientId: String(payload.patientId) }]);
                    this.#expiries.remove(String(payload.consentId));
                }
                break;
            case 'HospitalDeparted':
                // This hospital left: the consents it held are revoked, so it drops the envelopes they gave it.
                if (payload.mspId === me && Array.isArray(payload.patientIds)) {
                    this.#outbox.add((payload.patientIds as unknown[]).map((p) => ({ kind: 'purgePatient' as const, patientId: String(p) })));
                }
                break;
            case 'RecordErased': {
                const tasks: CustodyTask[] = [{ kind: 'purge', recordId: String(payload.recordId) }];
                if (payload.custodian === me) tasks.push({ kind: 'unpin', recordId: String(payload.recordId) });
                // Every hospital: its node may hold the blocks as a Cluster replica or a read's cache.
                if (typeof payload.cid === 'string' && payload.cid !== '') tasks.push({ kind: 'discard', cid: payload.cid });
                this.#outbox.add(tasks);
                break;
            }
            default:
                break;
        }
    }

    /** As grantee: remember when the consent lapses, so its envelopes are purged then. */
    async #scheduleExpiry(consentId: string, log: Logger): Promise<void> {
        const consent = await this.#o.ledger.getConsent(consentId);
        if (consent.status !== 'active' || consent.expiresAt === null) return;
        this.#expiries.add({ consentId, patientId: consent.patientId, expiresAt: consent.expiresAt });
        log.info({ consentId, expiresAt: consent.expiresAt }, 'consent expiry scheduled');
    }

    /**
     * Lapsed consents: their purges go to the outbox. The chaincode judges access by
     * the transaction's timestamp and refuses a purge while any other basis still
     * holds (CONFLICT, taken as done), so purging for a patient with another consent is safe.
     */
    async #sweepExpired(): Promise<void> {
        for (const expiry of this.#expiries.due(new Date())) {
            if (this.#stopped) return;
            const log = this.#o.logger.child({ consentId: expiry.consentId });
            try {
                this.#outbox.add([{ kind: 'purgePatient', patientId: expiry.patientId }]);
                // No event would bring this purge back: on disk before the expiry goes.
                this.#outbox.flush();
                this.#expiries.remove(expiry.consentId);
                log.info('lapsed consent: purge of its envelopes queued');
            } catch (err) {
                log.warn({ err: { message: (err as Error).message } }, 'lapsed consent: purge not queued; retried at the next sweep');
            }
        }
    }

    /** Runs one task, or one batch of deliveries to one grantee (the outbox groups them so). */
    async #execute(tasks: CustodyTask[]): Promise<TaskOutcome[]> {
        const first = tasks[0];
        if (first.kind === 'deliver') return this.#deliverBatch(first.grantee, tasks.map((t) => (t as { recordId: string }).recordId));
        try {
            await this.#executeOne(first);
            return [done];
        } catch (err) {
            if (finalCode(err)) return [done];
            this.#o.logger.warn({ task: first, err: { message: (err as Error).message } }, 'custody task failed; retried after a backoff');
            return [failed(err)];
        }
    }

    async #executeOne(task: Exclude<CustodyTask, { kind: 'deliver' }>): Promise<void> {
        const me = this.#o.mspId;
        switch (task.kind) {
            case 'grant': {
                if (task.grantee === me) return;
                const patient = await this.#o.ledger.getPatient(SYSTEM, task.patientId);
                const home = patient.homeHospital === me;
                const records = (await this.#o.ledger.listRecords(SYSTEM, task.patientId)).filter(
                    (r) => r.status === 'active' && r.custodian !== task.grantee && (r.custodian === me || home),
                );
                const own = records.filter((r) => r.custodian === me).map((r) => ({ kind: 'deliver' as const, recordId: r.recordId, grantee: task.grantee }));
                const asHome = records.filter((r) => r.custodian !== me).map((r) => ({ kind: 'deliver' as const, recordId: r.recordId, grantee: task.grantee }));
                this.#outbox.add(own);
                this.#outbox.add(asHome, { delayMs: this.#o.custody.homeDelayMs });
                return;
            }
            case 'created': {
                const patient = await this.#o.ledger.getPatient(SYSTEM, task.patientId);
                const custodian = task.custodian === me;
                if (!custodian && patient.homeHospital !== me) return;
                const consents = await this.#o.ledger.listConsents(SYSTEM, task.patientId);
                // Grantees the store planned for hold their envelope from the record's own transaction.
                const held = new Set(task.holders ?? []);
                const grantees = new Set(
                    consents
                        .filter((c) => c.status === 'active' && c.grantee !== me && c.grantee !== task.custodian && c.grantee !== patient.homeHospital && !held.has(c.grantee))
                        .map((c) => c.grantee),
                );
                const deliveries = [...grantees].map((grantee) => ({ kind: 'deliver' as const, recordId: task.recordId, grantee }));
                this.#outbox.add(deliveries, { delayMs: custodian ? 0 : this.#o.custody.homeDelayMs });
                return;
            }
            case 'purgePatient': {
                const held = await this.#o.ledger.listHeld(task.patientId);
                this.#outbox.add(held.map((recordId) => ({ kind: 'purge' as const, recordId })));
                return;
            }
            case 'purge': {
                try {
                    const txId = await this.#o.ledger.purgeEnvelope(task.recordId);
                    this.#o.logger.info({ recordId: task.recordId, purgeTxId: txId }, 'envelope purged');
                } catch (err) {
                    // Holds none, or still has access through another basis.
                    const code = chaincodeCode(err);
                    if (code === 'NOT_FOUND' || code === 'CONFLICT') return;
                    throw err;
                }
                return;
            }
            case 'unpin': {
                const record = await this.#o.ledger.getRecord(SYSTEM, task.recordId);
                try {
                    await this.#o.blobs.unpin(record.cid);
                    this.#o.logger.info({ recordId: task.recordId }, 'erased record unpinned');
                } catch (err) {
                    if ((err as { status?: number }).status !== 404) throw err;
                }
                return;
            }
            case 'discard': {
                // Fails (and is retried) while this node still pins the blob: the cluster-wide
                // unpin reaches each peer in its own time, and a peer that is down later.
                const removed = await this.#o.blobs.discard(task.cid);
                this.#o.logger.info({ cid: task.cid, blocks: removed }, 'erased blob discarded from this hospital\'s IPFS node');
                return;
            }
        }
    }

    /**
     * Wraps this hospital's data keys to the grantee and hands them over in one
     * transaction. Records it holds no envelope for (any more) and records the
     * chaincode refuses are done; an outage fails the whole batch, retried later.
     */
    async #deliverBatch(grantee: string, recordIds: string[]): Promise<TaskOutcome[]> {
        const log = this.#o.logger.child({ grantee });
        try {
            const target = (await this.#o.ledger.listHospitals()).find((h) => h.mspId === grantee);
            if (!target) return recordIds.map(() => done);
            // Those the grantee holds already (the other holder delivered them) are left out.
            const own = await this.#o.ledger.readOwnEnvelopes(recordIds, grantee);
            const keys: { dataKey: Buffer; context: { recordId: string; mspId: string } }[] = [];
            const envelopes = new Map<string, string>();
            try {
                for (const recordId of recordIds) {
                    const mine = own.get(recordId);
                    if (mine) keys.push({ dataKey: this.#o.keys.unwrap(mine, { recordId, mspId: this.#o.mspId }), context: { recordId, mspId: grantee } });
                }
                // One key agreement for the whole batch (key-wrap.ts wrapKeys).
                const wrapped = wrapKeys(keys, target.publicKey);
                keys.forEach((k, i) => envelopes.set(k.context.recordId, wrapped[i]));
            } finally {
                for (const k of keys) k.dataKey.fill(0);
            }
            if (envelopes.size > 0) {
                const result = await this.#o.ledger.deliverEnvelopes(grantee, envelopes);
                log.info(
                    { deliveryTxId: result.txId, delivered: result.delivered.length, skipped: result.skipped.length, refused: Object.keys(result.refused).length },
                    'envelopes delivered',
                );
            }
            return recordIds.map(() => done);
        } catch (err) {
            if (finalCode(err)) return recordIds.map(() => done);
            log.warn({ records: recordIds.length, err: { message: (err as Error).message } }, 'envelope delivery failed; retried after a backoff');
            return recordIds.map(() => failed(err));
        }
    }
}

/** A coded chaincode refusal that no retry changes (a record gone, a grantee unknown). */
function finalCode(err: unknown): boolean {
    const code = chaincodeCode(err);
    return code !== undefined;
}

/** `network.sh status` reads this: queued, retrying, oldest age, per grantee. */
function writeStatus(path: string, stats: OutboxStats): void {
    writeStateFile(path, { ...stats, updatedAt: new Date().toISOString() });
}
