import { checkpointers, type ChaincodeEvent, type Checkpointer, type CloseableAsyncIterable } from '@hyperledger/fabric-gateway';
import pLimit from 'p-limit';
import type { Logger } from 'pino';
import { type Keyring, wrapKey } from '../crypto/index.js';
import type { Actor, Hospital, RecordMeta } from '../domain.js';
import { type BlobStore, DependencyUnavailableError } from '../ports.js';
import type { FabricConnection } from './connection.js';
import { TransactionConflictError, TransactionInvalidError } from './errors.js';
import { ExpirySchedule } from './expiry-schedule.js';
import type { FabricLedger } from './fabric-ledger.js';

export interface EventFollowerOptions {
    connection: FabricConnection;
    ledger: FabricLedger;
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
    /**
     * Envelope deliveries or purges of one event submitted at once. Each waits
     * for its commit, so one at a time costs a block interval per record; in
     * parallel they share blocks. They write disjoint keys (one record each),
     * so they do not conflict.
     */
    concurrency: number;
}

/** The follower acts as the hospital itself, not for a person. */
const SYSTEM: Actor = { id: 'gateway-event-follower', role: 'admin' };
const utf8 = new TextDecoder();

function chaincodeCode(err: unknown): string | undefined {
    const e = err as { message?: string; details?: { message?: string }[] };
    const text = [e?.message ?? '', ...(e?.details ?? []).map((d) => d.message ?? '')].join('\n');
    return /\b(INVALID_ARGUMENT|FORBIDDEN|NOT_FOUND|CONFLICT|GONE):/.exec(text)?.[1];
}

/** gRPC UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED / ABORTED, or a network error reaching IPFS. */
function isTransient(err: unknown): boolean {
    if (chaincodeCode(err) !== undefined) return false;
    if (err instanceof DependencyUnavailableError || err instanceof TransactionConflictError || err instanceof TransactionInvalidError) return true;
    const e = err as { code?: number | string; name?: string };
    if (typeof e?.code === 'number') return [4, 8, 10, 14].includes(e.code);
    if (e?.name === 'DependencyUnavailableError' || e?.name === 'TransactionInvalidError') return true;
    return typeof e?.code === 'string' && /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|UND_ERR)/.test(e.code);
}

/**
 * Follows the chaincode's events from a persisted checkpoint and does the
 * custodian's and holders' side of the protocol: delivers envelopes to new
 * grantees, purges this hospital's envelopes when its access ends, unpins
 * erased blobs it is custodian of. An event is checkpointed only after it was
 * handled, so a restart neither misses nor repeats work (handlers are
 * idempotent for the rare event replayed after a crash mid-handling).
 */
export class EventFollower {
    readonly #o: EventFollowerOptions;
    #events: CloseableAsyncIterable<ChaincodeEvent> | undefined;
    #stopped = false;
    #done: Promise<void> | undefined;
    readonly #expiries: ExpirySchedule;
    #sweepTimer: NodeJS.Timeout | undefined;
    #sweeping: Promise<void> = Promise.resolve();

    constructor(options: EventFollowerOptions) {
        this.#o = options;
        this.#expiries = new ExpirySchedule(options.expiriesPath);
    }

    start(): void {
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
    }

    async #run(): Promise<void> {
        const checkpointer = await checkpointers.file(this.#o.checkpointPath);
        while (!this.#stopped) {
            try {
                await this.#follow(checkpointer);
            } catch (err) {
                if (this.#stopped) break;
                this.#o.logger.warn({ err: { message: (err as Error).message } }, 'event follower failed; resuming from checkpoint');
                await new Promise((r) => setTimeout(r, this.#o.retryDelayMs));
            }
        }
    }

    async #follow(checkpointer: Checkpointer): Promise<void> {
        const { network } = this.#o.connection;
        this.#events = await network.getChaincodeEvents(this.#o.connection.contract.getChaincodeName(), {
            checkpoint: checkpointer,
            startBlock: BigInt(0),
        });
        try {
            for await (const event of this.#events) {
                try {
                    await this.#handle(event);
                } catch (err) {
                    // An outage is retried from the checkpoint; any other failure
                    // would fail again on every retry, so it is logged and skipped
                    // rather than blocking every later event.
                    if (isTransient(err)) throw err;
                    this.#o.logger.error(
                        { event: event.eventName, txId: event.transactionId, err: { message: (err as Error).message } },
                        'event could not be handled; skipped',
                    );
                }
                await checkpointer.checkpointChaincodeEvent(event);
            }
        } finally {
            this.#events.close();
        }
    }

    async #handle(event: ChaincodeEvent): Promise<void> {
        const payload = JSON.parse(utf8.decode(event.payload)) as Record<string, unknown>;
        const log = this.#o.logger.child({ event: event.eventName, txId: event.transactionId, block: Number(event.blockNumber) });
        switch (event.eventName) {
            case 'ConsentGranted':
                if (payload.grantee === this.#o.mspId) await this.#scheduleExpiry(String(payload.consentId), log);
                else await this.#deliverForPatient(String(payload.patientId), String(payload.grantee), log);
                break;
            case 'RequestDecided':
                if (payload.status !== 'approved') break;
                if (payload.requester === this.#o.mspId) await this.#scheduleExpiry(String(payload.consentId), log);
                else await this.#deliverForPatient(String(payload.patientId), String(payload.requester), log);
                break;
            case 'RecordCreated':
                if (payload.custodian === this.#o.mspId) await this.#deliverToConsented(String(payload.recordId), String(payload.patientId), log);
                break;
            case 'ConsentRevoked':
                if (payload.grantee === this.#o.mspId) {
                    await this.#purgeForPatient(String(payload.patientId), log);
                    this.#expiries.remove(String(payload.consentId));
                }
                break;
            case 'RecordErased':
                await this.#onErased(String(payload.recordId), String(payload.custodian), log);
                break;
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
     * Purges the envelopes of lapsed consents. The chaincode judges access by
     * the transaction's timestamp and refuses a purge while any other basis
     * still holds (CONFLICT, ignored), so purging a little late or for a
     * patient with another consent is safe. A failed purge stays due.
     */
    async #sweepExpired(): Promise<void> {
        for (const expiry of this.#expiries.due(new Date())) {
            if (this.#stopped) return;
            const log = this.#o.logger.child({ consentId: expiry.consentId });
            try {
                await this.#purgeForPatient(expiry.patientId, log);
                this.#expiries.remove(expiry.consentId);
                log.info('lapsed consent: envelopes purged');
            } catch (err) {
                log.warn({ err: { message: (err as Error).message } }, 'lapsed consent: purge failed; retried at the next sweep');
            }
        }
    }

    /** As custodian, wrap each covered record's key to the grantee. */
    async #deliverForPatient(patientId: string, grantee: string, log: Logger): Promise<void> {
        if (grantee === this.#o.mspId) return;
        const target = (await this.#o.ledger.listHospitals()).find((h) => h.mspId === grantee);
        if (!target) return;
        const records = await this.#custodianRecords(patientId);
        await this.#runAll(records.map((record) => () => this.#deliver(record.recordId, target, log)));
    }

    /** A record created after a consent: every current grantee gets its envelope too. */
    async #deliverToConsented(recordId: string, patientId: string, log: Logger): Promise<void> {
        const consents = await this.#o.ledger.listConsents(SYSTEM, patientId);
        const grantees = new Set(consents.filter((c) => c.status === 'active' && c.grantee !== this.#o.mspId).map((c) => c.grantee));
        if (grantees.size === 0) return;
        const targets = (await this.#o.ledger.listHospitals()).filter((h) => grantees.has(h.mspId));
        await this.#runAll(targets.map((target) => () => this.#deliver(recordId, target, log)));
    }

    /**
     * Runs the tasks with bounded concurrency and waits for all of them; the
     * first failure is rethrown only then, so a retry from the checkpoint never
     * races deliveries still in flight (the handlers are idempotent).
     */
    async #runAll(tasks: (() => Promise<void>)[]): Promise<void> {
        const limit = pLimit(this.#o.concurrency);
        const results = await Promise.allSettled(tasks.map((task) => limit(task)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
    }

    async #deliver(recordId: string, target: Hospital, log: Logger): Promise<void> {
        const grantee = target.mspId;
        const own = await this.#o.ledger.readEnvelope(SYSTEM, recordId, 'treatment');
        if (!own) return;
        const dataKey = this.#o.keys.unwrap(own, { recordId, mspId: this.#o.mspId });
        try {
            const envelope = wrapKey(dataKey, target.publicKey, { recordId, mspId: grantee });
            const txId = await this.#o.ledger.deliverEnvelope(recordId, grantee, envelope);
            log.info({ recordId, grantee, deliveryTxId: txId }, 'envelope delivered');
        } catch (err) {
            // Out of the consent's scope, or delivered already (a replayed event): nothing to do.
            const code = chaincodeCode(err);
            if (code === 'FORBIDDEN' || code === 'CONFLICT' || code === 'GONE') return;
            throw err;
        } finally {
            dataKey.fill(0);
        }
    }

    async #purgeForPatient(patientId: string, log: Logger): Promise<void> {
        const records = await this.#allRecords(patientId);
        await this.#runAll(records.map((record) => () => this.#purge(record.recordId, log)));
    }

    async #onErased(recordId: string, custodian: string, log: Logger): Promise<void> {
        await this.#purge(recordId, log);
        if (custodian === this.#o.mspId) {
            const record = await this.#o.ledger.getRecord(SYSTEM, recordId);
            try {
                await this.#o.blobs.unpin(record.cid);
                log.info({ recordId }, 'erased record unpinned');
            } catch (err) {
                if ((err as { status?: number }).status !== 404) throw err;
            }
        }
    }

    async #purge(recordId: string, log: Logger): Promise<void> {
        try {
            const txId = await this.#o.ledger.purgeEnvelope(recordId);
            log.info({ recordId, purgeTxId: txId }, 'envelope purged');
        } catch (err) {
            // Holds none, or still has access through another basis.
            const code = chaincodeCode(err);
            if (code === 'NOT_FOUND' || code === 'CONFLICT') return;
            throw err;
        }
    }

    async #custodianRecords(patientId: string): Promise<RecordMeta[]> {
        const records = await this.#o.ledger.listRecords(SYSTEM, patientId);
        return records.filter((r) => r.custodian === this.#o.mspId && r.status === 'active');
    }

    /**
     * The patient's records whose envelope this hospital holds, including those it can no
     * longer open: once its consent ends, need-to-know hides the patient's records from it.
     */
    async #allRecords(patientId: string): Promise<{ recordId: string }[]> {
        const bytes = await this.#o.connection.contract.evaluate('Access:ListHeld', { arguments: [patientId] });
        return JSON.parse(utf8.decode(bytes)) as { recordId: string }[];
    }
}
