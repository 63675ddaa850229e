/*
 * Vital signs (issue 14): ingest in encrypted time-windowed chunks, and live views under
 * the access rule. Chunks are ordinary records of category `vitals`, stored through
 * RecordService.store, so encryption, envelopes, custody and replication all apply.
 */
import { Readable } from 'node:stream';
import type { Response } from 'express';
import type { Actor, Purpose } from '../domain.js';
import { classifyDependencyError, NotFound, Unavailable } from '../domain-errors.js';
import type { ServiceContext } from '../services/context.js';
import type { RecordService } from '../services/records.js';
import { LiveHub } from './live-hub.js';
import { LiveSession, type LiveSessionOptions } from './live-session.js';
import { fromNdjson, NDJSON, parseSamples, toNdjson, windows, type SampleLimits, type VitalSample } from './samples.js';

export interface VitalsOptions extends SampleLimits {
    /** Width of one stored chunk. */
    windowMs: number;
    live: LiveSessionOptions & {
        /** How often an open live view's access is judged again by the chaincode (lapse, revocation, erasure). */
        recheckMs: number;
    };
}

export const DEFAULT_VITALS_OPTIONS: VitalsOptions = {
    windowMs: 60_000,
    maxBytes: 8 * 1024 * 1024,
    maxSamples: 100_000,
    live: { maxBufferedSamples: 20_000, heartbeatMs: 15_000, maxSessionMs: 3_600_000, recheckMs: 5_000 },
};

export interface StoredChunk {
    recordId: string;
    start: string;
    end: string;
    samples: number;
    txId: string;
}

export interface IngestResult {
    patientId: string;
    samples: number;
    chunks: StoredChunk[];
}

/** What the event follower reports (payloads as the chaincode emitted them: IDs and codes only). */
export type LedgerEventListener = (name: string, payload: Record<string, unknown>) => void;

export class VitalsService {
    readonly #ctx: ServiceContext;
    readonly #records: RecordService;
    readonly #options: VitalsOptions;
    readonly hub = new LiveHub();
    /** Remote chunks in flight per patient, so their samples reach a view in ledger order. */
    readonly #chains = new Map<string, Promise<void>>();

    constructor(ctx: ServiceContext, records: RecordService, options: VitalsOptions) {
        this.#ctx = ctx;
        this.#records = records;
        this.#options = options;
    }

    /**
     * The whole body is checked before anything is written. Local live views get the samples
     * at once (this hospital is their custodian; each view's access was logged when it opened),
     * then each window is stored in time order. Only a 201 acknowledges samples; when a store
     * fails part way, the 503 names the windows stored, so a device re-sends only the rest.
     */
    async ingest(actor: Actor, patientId: string, body: Buffer): Promise<IngestResult> {
        const samples = parseSamples(body, this.#options);
        await this.#ctx.ledger.getPatient(actor, patientId);
        this.hub.publish(patientId, samples);
        const chunks: StoredChunk[] = [];
        for (const window of windows(samples, this.#options.windowMs)) {
            try {
                const stored = await this.#records.store(
                    actor,
                    { patientId, category: 'vitals', contentType: NDJSON, fileName: `vitals-${window.start}.ndjson`, limitBytes: this.#options.maxBytes * 2 },
                    Readable.from([Buffer.from(toNdjson(window.samples))]),
                );
                chunks.push({ recordId: stored.recordId, start: window.start, end: window.end, samples: window.samples.length, txId: stored.txId });
            } catch (err) {
                if (chunks.length === 0) throw err;
                // No patient ID in the log (pseudonyms stay off the logs, like titles); the chunk count says enough.
                this.#ctx.logger.warn({ stored: chunks.length, err: { message: (err as Error).message } }, 'vitals ingest stopped part way');
                throw new Unavailable(
                    `${chunks.length} windows were stored; the samples from ${window.start} on were not: send them again`,
                    this.#ctx.retryAfterSeconds,
                    { cause: err, extensions: { stored: chunks, resendFrom: window.start } },
                );
            }
        }
        return { patientId, samples: samples.length, chunks };
    }

    /**
     * Opens a live view. Its basis is the access rule for a read of the patient's latest
     * vitals chunk with the purpose given, judged by the chaincode: the one access entry of
     * the session is that read's, committed before the stream starts (audit before disclosure).
     * No chunk the caller may see: 404, as for an unknown patient.
     */
    async openLive(actor: Actor, patientId: string, purpose: Purpose, res: Response): Promise<LiveSession> {
        const { ledger } = this.#ctx;
        const chunks = (await this.#records.list(actor, patientId)).filter((r) => r.category === 'vitals' && r.status === 'active');
        const anchor = chunks.sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1);
        if (!anchor) throw new NotFound(`no vital signs of patient ${patientId} are visible to this hospital`);
        const logged = await ledger.logAccess(actor, anchor.recordId, purpose);
        const session = new LiveSession(
            { patientId, actor, purpose, basis: logged.basis, anchorRecordId: anchor.recordId },
            res,
            this.#options.live,
            (s) => this.hub.remove(s),
        );
        this.hub.add(session);
        session.start({ patientId, purpose, basis: logged.basis, accessTxId: logged.txId, anchorRecordId: anchor.recordId });
        this.#recheck(session);
        return session;
    }

    /** The chaincode judges the session's read again now and then: a lapsed consent ends it. */
    #recheck(session: LiveSession): void {
        const timer = setInterval(() => {
            if (session.closed) {
                clearInterval(timer);
                return;
            }
            this.#ctx.ledger.readEnvelope(session.actor, session.anchorRecordId, session.purpose).catch((err: unknown) => {
                if (refused(err)) session.end('access-ended');
            });
        }, this.#options.live.recheckMs);
        timer.unref();
    }

    /**
     * The chaincode events this gateway follows. A revoked consent ends the views it allowed
     * at once. A chunk stored at another hospital reaches the views here when this hospital can
     * open it: on RecordCreated when it is a holder (the home hospital), otherwise when the
     * custodian delivers its envelope.
     */
    readonly onLedgerEvent: LedgerEventListener = (name, payload) => {
        const me = this.#ctx.identity.mspId;
        const patientId = typeof payload.patientId === 'string' ? payload.patientId : undefined;
        switch (name) {
            case 'ConsentRevoked':
                if (payload.grantee === me && patientId) this.hub.endWhere((s) => s.patientId === patientId && s.basis === payload.consentId, 'consent-revoked');
                break;
            case 'RecordCreated':
                if (patientId && payload.custodian !== me && Array.isArray(payload.holders) && payload.holders.includes(me)) this.#follow(String(payload.recordId), patientId);
                break;
            case 'EnvelopeDelivered':
                if (patientId && payload.grantee === me) this.#follow(String(payload.recordId), patientId);
                break;
            case 'EnvelopesDelivered':
                if (payload.grantee === me && Array.isArray(payload.recordIds) && this.hub.size > 0) {
                    for (const recordId of payload.recordIds) this.#follow(String(recordId));
                }
                break;
            default:
                break;
        }
    };

    #follow(recordId: string, patientId?: string): void {
        if (patientId !== undefined && !this.hub.watched(patientId)) return;
        const key = patientId ?? '';
        const previous = this.#chains.get(key) ?? Promise.resolve();
        const next = previous
            .then(() => this.#pushRemoteChunk(recordId, patientId))
            .catch((err: unknown) => this.#ctx.logger.warn({ recordId, err: { message: (err as Error).message } }, 'a vitals chunk could not be pushed to live views'));
        this.#chains.set(key, next);
        void next.finally(() => {
            if (this.#chains.get(key) === next) this.#chains.delete(key);
        });
    }

    /** Each view reads the chunk under its own purpose (the chaincode judges it); it is decrypted once. */
    async #pushRemoteChunk(recordId: string, knownPatient?: string): Promise<void> {
        const first = knownPatient ? this.hub.sessionsOf(knownPatient)[0] : this.hub.all()[0];
        if (!first) return;
        const record = await this.#ctx.ledger.getRecord(first.actor, recordId);
        if (record.category !== 'vitals' || record.status !== 'active') return;
        let samples: VitalSample[] | undefined;
        for (const session of this.hub.sessionsOf(record.patientId)) {
            let opened;
            try {
                opened = await this.#records.openUnderSession(session.actor, recordId, session.purpose);
            } catch (err) {
                if (refused(err)) session.end('access-ended');
                else throw err;
                continue;
            }
            if (!opened) continue;
            if (samples === undefined) {
                samples = await readSamples(opened.body);
            } else {
                opened.body.destroy();
            }
            session.push(samples);
        }
    }

    /** Ends every view (the gateway is stopping). */
    close(): void {
        this.hub.endWhere(() => true, 'shutdown');
    }
}

/** The samples of a decrypted chunk (authenticated as it is read). */
export async function readSamples(body: AsyncIterable<unknown>): Promise<VitalSample[]> {
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    return fromNdjson(Buffer.concat(parts).toString('utf8'));
}

/** A coded refusal of the chaincode (no basis, erased, not this purpose): the view's access is over. */
function refused(err: unknown): boolean {
    const failure = classifyDependencyError(err);
    if (failure?.kind === 'refused') return true;
    const name = (err as { name?: string } | null)?.name;
    return name === 'NotFound' || name === 'Forbidden' || name === 'Gone';
}
