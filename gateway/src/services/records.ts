import { consentInForce, scopeCovers } from '@ehr/ledger-model';
import { randomUUID } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BlobHead, type DecryptStream, decryptStream, encryptStream, newDataKey, wrapKey } from '../crypto/index.js';
import type { Actor, Category, Hospital, Purpose, RecordMeta } from '../domain.js';
import { classifyDependencyError, Forbidden, Gone, Invalid, TooLarge, Unavailable } from '../domain-errors.js';
import { BlobCorruptedError, BlobUnretrievableError, blobIntegrity, type BlobIntegrityEvent } from '../ports.js';
import type { ServiceContext } from './context.js';
import { assertActsFor, assertPatientAtHome } from './guards.js';

export interface StoreRequest {
    patientId: string;
    category: Category;
    contentType: string;
    title?: string;
    fileName?: string;
    supersedes?: string;
    /** The most bytes the document may have. */
    limitBytes: number;
}

export interface StoredRecord {
    recordId: string;
    patientId: string;
    custodian: string;
    cid: string;
    /** Bytes of the document as uploaded. */
    plaintextSize: number;
    /** Bytes of ciphertext in IPFS: the ledger's `size`. */
    ciphertextSize: number;
    category: Category;
    sha256: string;
    txId: string;
    createdAt: string;
}

export interface OpenedContent {
    head: BlobHead;
    /** Authenticated plaintext; errors (and must abort the response) if the blob fails verification. */
    body: DecryptStream;
    accessTxId: string;
}

/** A record's metadata as the REST API shows it (`ciphertextSize`, never a bare `size`). */
export type RecordView = RecordMeta;

/** What verification found: erased (nothing left to check) is not damage. */
export type VerificationState = 'intact' | 'erased' | 'missing' | 'corrupted';

export interface Verification {
    cid: string;
    ledgerTxId: string;
    blockNumber: number | null;
    pinnedOn: string[];
    /** The record's status on the ledger. */
    status: RecordMeta['status'];
    state: VerificationState;
    /** `state === 'intact'`. */
    intact: boolean;
    detail: string;
}

const VERIFICATION_DETAIL: Record<VerificationState, string> = {
    intact: 'the blob is retrievable, its blocks match the CID and its size matches the ledger',
    erased: 'the record was erased (crypto-shredding): its keys are destroyed and its blob unpinned, so there is nothing left to verify; this is not damage',
    missing: 'the blob named on the ledger could not be retrieved from IPFS',
    corrupted: 'the blob retrieved does not match the ledger (hash or size): it is not the document the ledger names',
};

/** `corrupted`, told apart by what the read that found it could do about it. */
const CORRUPTION_DETAIL = {
    healed:
        "this hospital's copy of the blob did not hash to its CID; the corrupted blocks were dropped and replaced by intact ones fetched from a replica, so the blob is whole again (verify again to confirm)",
    unhealed:
        "this hospital's copy of the blob does not hash to its CID; the corrupted blocks were dropped, but no replica supplied intact ones: no intact copy is reachable from here",
};

export interface OpenOptions {
    /** The purpose came from the default, not the X-Purpose-Of-Use header. */
    purposeDefaulted?: boolean;
}

/** Storing, reading, verifying and erasing documents: the orchestration of ledger, crypto and IPFS. */
export class RecordService {
    readonly #ctx: ServiceContext;

    constructor(ctx: ServiceContext) {
        this.#ctx = ctx;
    }

    /**
     * Every check that can fail on input runs before the first byte goes to IPFS, so bad
     * input writes nothing. If the ledger then refuses the record, the blob is unpinned again.
     */
    async store(actor: Actor, request: StoreRequest, body: Readable): Promise<StoredRecord> {
        const { ledger, blobs, identity } = this.#ctx;
        const recordId = randomUUID();
        const { patient, grantees } = await ledger.planRecord(actor, request.patientId, recordId, request.category);
        if (request.supersedes) {
            const previous = await ledger.getRecord(actor, request.supersedes);
            if (previous.patientId !== request.patientId) {
                throw new Invalid('supersedes names a record of another patient', [{ field: 'query.supersedes', message: 'record of another patient' }]);
            }
        }
        const hospitals = await ledger.listHospitals();
        const recipients = [identity.mspId, patient.homeHospital].filter((m, i, all) => all.indexOf(m) === i).map((mspId) => this.#hospital(hospitals, mspId));
        // Grantees get their envelopes in the record's own transaction, which spares a delivery
        // transaction per grantee; one not in the cached list yet is left to the custodian's delivery.
        const optional = hospitals.filter((h) => grantees.includes(h.mspId) && !recipients.some((r) => r.mspId === h.mspId));

        const dataKey = newDataKey();
        const encryptor = encryptStream(dataKey, {
            contentType: request.contentType,
            ...(request.title ? { title: request.title } : {}),
            ...(request.fileName ? { fileName: request.fileName } : {}),
        });
        const controller = new AbortController();
        const piping = pipeline(body, limitBytes(request.limitBytes), encryptor, { signal: controller.signal });
        const adding = blobs.add(encryptor, controller.signal);
        // Whichever side fails first stops the other, so neither waits forever on a dead peer.
        adding.catch(() => controller.abort());
        const [piped, added] = await Promise.allSettled([piping, adding]);
        // The upload side's own failure (oversize, client gone) explains more than the store's echo of it.
        if (piped.status === 'rejected' && !isAbort(piped.reason)) throw piped.reason;
        if (added.status === 'rejected') throw added.reason;
        if (piped.status === 'rejected') throw piped.reason;
        const stored = added.value;
        const trailer = encryptor.trailer!;

        const envelopes = new Map([...recipients, ...optional].map((h) => [h.mspId, wrapKey(dataKey, h.publicKey, { recordId, mspId: h.mspId })]));
        dataKey.fill(0);
        let created;
        try {
            created = await ledger.createRecord(
                actor,
                { recordId, patientId: request.patientId, cid: stored.cid, ciphertextSize: stored.size, category: request.category, ...(request.supersedes ? { supersedes: request.supersedes } : {}) },
                envelopes,
                new Set(optional.map((h) => h.mspId)),
            );
        } catch (err) {
            await blobs.unpin(stored.cid).catch((unpinErr: unknown) => this.#ctx.logger.warn({ err: unpinErr, cid: stored.cid }, 'unpinning an unrecorded blob failed'));
            throw err;
        }
        return {
            recordId,
            patientId: request.patientId,
            custodian: created.custodian,
            cid: stored.cid,
            plaintextSize: trailer.size,
            ciphertextSize: stored.size,
            category: request.category,
            sha256: trailer.sha256,
            txId: created.txId,
            createdAt: created.createdAt,
        };
    }

    async get(actor: Actor, recordId: string): Promise<RecordView> {
        return this.#get(actor, recordId);
    }

    async list(actor: Actor, patientId: string): Promise<RecordView[]> {
        await assertPatientAtHome(this.#ctx, actor, patientId);
        return this.#ctx.ledger.listRecords(actor, patientId);
    }

    /**
     * Audit before disclosure: the access is committed on the ledger before the first byte
     * is fetched. The record and this hospital's envelope are read first, in one evaluation
     * (Access:OpenRecord), which discloses nothing and logs nothing, so a read refused or
     * answered 503 (no envelope delivered yet) leaves no access entry for something nobody saw.
     */
    async open(actor: Actor, recordId: string, purpose: Purpose, options: OpenOptions = {}): Promise<OpenedContent> {
        const { ledger } = this.#ctx;
        const { record, envelope } = await this.#openRecord(actor, recordId, purpose, options);
        if (!envelope) {
            throw new Unavailable("the custodian has not delivered this hospital's key envelope yet", this.#ctx.retryAfterSeconds);
        }
        let logged;
        try {
            logged = await ledger.logAccess(actor, recordId, purpose);
        } catch (err) {
            throw await this.#explainDenial(err, actor, { ...record, recordId }, purpose, options);
        }
        return { ...(await this.#decrypt(recordId, record, envelope)), accessTxId: logged.txId };
    }

    /**
     * Content read under an access entry committed already (a live view's session entry,
     * vitals/): the chaincode still judges this read (OpenRecord applies the access rule for
     * purpose), so a revoked or lapsed consent stops it, but no second entry is written.
     * `undefined` while this hospital's envelope has not been delivered.
     */
    async openUnderSession(actor: Actor, recordId: string, purpose: Purpose): Promise<Omit<OpenedContent, 'accessTxId'> | undefined> {
        const { record, envelope } = await this.#openRecord(actor, recordId, purpose, {});
        return envelope ? this.#decrypt(recordId, record, envelope) : undefined;
    }

    /**
     * The record and this hospital's envelope, judged for the purpose. A patient reads only at
     * home (checked before any access is logged); a denial for the purpose is explained.
     */
    async #openRecord(actor: Actor, recordId: string, purpose: Purpose, options: OpenOptions) {
        let opened;
        try {
            opened = await this.#ctx.ledger.openRecord(actor, recordId, purpose);
        } catch (err) {
            const failure = classifyDependencyError(err);
            if (failure?.kind !== 'refused' || failure.code !== 'FORBIDDEN') throw err;
            // Only a denial needs the record again: to say which purposes would be allowed.
            const record = await this.#get(actor, recordId);
            throw await this.#explainDenial(err, actor, { ...record, recordId }, purpose, options);
        }
        if (actor.role === 'patient') await assertPatientAtHome(this.#ctx, actor, opened.record.patientId);
        return opened;
    }

    /** The authenticated plaintext of the record's blob, once its first segment verified. */
    async #decrypt(recordId: string, record: RecordMeta, envelope: string): Promise<Omit<OpenedContent, 'accessTxId'>> {
        const { blobs, identity } = this.#ctx;
        const dataKey = identity.keys.unwrap(envelope, { recordId, mspId: identity.mspId });
        const decryptor = decryptStream(dataKey);
        const watch = this.#watchIntegrity(recordId, record.cid);
        // Failures surface through the decryptor (it is destroyed with the error). A corrupted
        // local block is healed inside cat (dropped, refetched from a replica, resumed).
        pipeline(Readable.from(blobs.cat(record.cid)), decryptor)
            .catch(() => undefined)
            .finally(watch.stop);
        let head;
        try {
            // The first segment is authenticated before the response starts, so a blob that
            // cannot be had intact answers a problem, not a 200 that breaks off.
            head = await decryptor.head;
        } catch (err) {
            throw this.#unreadable(err) ?? err;
        }
        return { head, body: decryptor };
    }

    async verify(actor: Actor, recordId: string): Promise<Verification> {
        const { ledger, blobs } = this.#ctx;
        const record = await ledger.getRecord(actor, recordId);
        const [location, pins] = await Promise.all([ledger.locateRecord(actor, recordId), blobs.pins(record.cid)]);
        const pinnedOn = pins.filter((p) => p.status === 'pinned').map((p) => p.peerName || p.peerId);
        const checked: { state: VerificationState; detail?: string } = record.status === 'erased' ? { state: 'erased' } : await this.#check(recordId, record);
        const { state } = checked;
        return {
            cid: record.cid,
            ledgerTxId: location.txId,
            blockNumber: location.blockNumber,
            pinnedOn,
            status: record.status,
            state,
            intact: state === 'intact',
            detail: checked.detail ?? VERIFICATION_DETAIL[state],
        };
    }

    async erase(actor: Actor, recordId: string): Promise<{ recordId: string; status: 'erased'; txId: string }> {
        const { ledger, blobs, identity, logger } = this.#ctx;
        const record = await ledger.getRecord(actor, recordId);
        assertActsFor(actor, record.patientId);
        if (record.status === 'erased') throw new Gone(`record ${recordId} was already erased`);
        const erased = await ledger.eraseRecord(actor, recordId);
        if (record.custodian === identity.mspId) {
            // The event follower retries; a failure here must not undo a committed erasure.
            await blobs.unpin(record.cid).catch((err: unknown) => logger.warn({ err, recordId }, 'unpinning an erased blob failed'));
        }
        return { recordId, status: 'erased', txId: erased.txId };
    }

    async #get(actor: Actor, recordId: string): Promise<RecordMeta> {
        const record = await this.#ctx.ledger.getRecord(actor, recordId);
        if (actor.role === 'patient') await assertPatientAtHome(this.#ctx, actor, record.patientId);
        return record;
    }

    /**
     * The blob store checks every block against its CID while it streams (Kubo's
     * Datastore.HashOnRead), so a full read that yields exactly the ledger's ciphertext size
     * proves the blob is the one the ledger names — without the data key, which an auditor's
     * hospital may not hold. A corrupted local copy met on the way is `corrupted`, even when
     * the read healed it from a replica (the detail says which): verify reports what it found.
     */
    async #check(recordId: string, record: RecordMeta): Promise<{ state: 'intact' | 'missing' | 'corrupted'; detail?: string }> {
        const watch = this.#watchIntegrity(recordId, record.cid);
        let size = 0; // ciphertext bytes read
        try {
            for await (const chunk of this.#ctx.blobs.cat(record.cid)) size += chunk.length;
        } catch (err) {
            if (err instanceof BlobCorruptedError) return { state: 'corrupted', detail: CORRUPTION_DETAIL.unhealed };
            if (err instanceof BlobUnretrievableError) return { state: 'missing' };
            const failure = classifyDependencyError(err);
            if (failure?.kind === 'unavailable' || failure?.kind === 'busy') throw err;
            return /hash|checksum|corrupt|mismatch|does not match/i.test((err as Error)?.message ?? '') ? { state: 'corrupted' } : { state: 'missing' };
        } finally {
            watch.stop();
        }
        if (size !== record.ciphertextSize) return { state: 'corrupted' };
        if (watch.events.some((e) => e.action === 'detected')) return { state: 'corrupted', detail: CORRUPTION_DETAIL.healed };
        return { state: 'intact' };
    }

    /** Logs (record and CID only, no PHI) each corruption the blob store reports while this read runs. */
    #watchIntegrity(recordId: string, cid: string): { events: BlobIntegrityEvent[]; stop: () => void } {
        const events: BlobIntegrityEvent[] = [];
        const stop = blobIntegrity.subscribe((event) => {
            if (event.cid !== cid) return;
            events.push(event);
            const fields = { recordId, cid, action: event.action, blocks: event.blocks };
            if (event.action === 'unrecoverable') this.#ctx.logger.error(fields, 'blob corrupted: no intact copy could be fetched');
            else this.#ctx.logger.warn(fields, `blob corruption: ${event.action}`);
        });
        return { events, stop };
    }

    /** A blob that cannot be had intact: 503 (a replica may come back), before any byte is sent. */
    #unreadable(err: unknown): Unavailable | undefined {
        if (err instanceof BlobCorruptedError) {
            return new Unavailable(
                "no intact copy of this record's document is reachable: this hospital's copy failed its hash check and no replica supplied intact blocks",
                this.#ctx.retryAfterSeconds,
                { cause: err, extensions: { dependency: 'ipfs', reason: 'blob-corrupted' } },
            );
        }
        if (err instanceof BlobUnretrievableError) {
            return new Unavailable("this record's document could not be fetched from IPFS in time", this.#ctx.retryAfterSeconds, {
                cause: err,
                extensions: { dependency: 'ipfs', reason: 'blob-unretrievable' },
            });
        }
        return undefined;
    }

    /**
     * A denial of content says what would have allowed it: the purpose comes from the
     * X-Purpose-Of-Use header (default treatment), and the purposes this hospital's own consents
     * for the record allow. Only consents granted to this hospital are named: the caller's
     * hospital knows those already; anything else about the patient stays unsaid.
     */
    async #explainDenial(err: unknown, actor: Actor, record: RecordMeta & { recordId: string }, purpose: Purpose, options: OpenOptions): Promise<unknown> {
        const failure = classifyDependencyError(err);
        if (failure?.kind !== 'refused' || failure.code !== 'FORBIDDEN') return err;
        const { mspId } = this.#ctx.identity;
        let allowed: Purpose[] = [];
        try {
            // The ledger's rule, judged at this gateway's clock (the chaincode judged at its transaction's).
            const now = new Date().toISOString();
            const own = (await this.#ctx.ledger.listConsents(actor, record.patientId)).filter(
                (c) => c.grantee === mspId && consentInForce(c, now) && scopeCovers(c.scope, record.recordId, record),
            );
            allowed = [...new Set(own.flatMap((c) => c.purposes))].sort();
        } catch (listErr) {
            this.#ctx.logger.debug({ err: listErr }, 'listing consents to explain a denial failed');
        }
        const source = options.purposeDefaulted
            ? `no X-Purpose-Of-Use header was sent, so the purpose defaulted to ${purpose}`
            : `the X-Purpose-Of-Use header said ${purpose}`;
        const remedy = allowed.length
            ? `Consents granted to ${mspId} that cover this record allow: ${allowed.join(', ')}; send X-Purpose-Of-Use with one of those if it is the true purpose, or ask the patient for consent for ${purpose} (POST /api/v1/access-requests).`
            : `No consent granted to ${mspId} covers this record for any purpose: ask the patient for access (POST /api/v1/access-requests with purpose ${purpose}).`;
        return new Forbidden(`${mspId} may not read record ${record.recordId} for purpose ${purpose} (${source}). ${remedy}`, {
            cause: err,
            extensions: { purpose, purposeHeader: 'X-Purpose-Of-Use', defaultPurpose: 'treatment', allowedPurposes: allowed },
        });
    }

    #hospital(hospitals: Hospital[], mspId: string): Hospital {
        const hospital = hospitals.find((h) => h.mspId === mspId);
        if (!hospital) throw new Forbidden(`hospital ${mspId} is not a registered consortium member`);
        return hospital;
    }
}

/** Fails the upload as soon as it passes the limit, so an oversized body is never stored. */
function limitBytes(limit: number): Transform {
    let seen = 0;
    return new Transform({
        transform(chunk: Buffer, _encoding, callback: TransformCallback) {
            seen += chunk.length;
            if (seen > limit) callback(new TooLarge(limit));
            else callback(null, chunk);
        },
    });
}

function isAbort(err: unknown): boolean {
    return (err as { name?: unknown } | null)?.name === 'AbortError';
}
