/*
 * The gateway's two dependencies, as interfaces. The services depend only on these; the
 * Fabric adapter (fabric/) and the IPFS adapter (ipfs/) implement them, and the tests use
 * in-memory fakes (testing/).
 *
 * Error contract for implementations:
 *  - a chaincode rejection keeps its coded message (`<CODE>: <detail>`, codedError in
 *    @ehr/ledger-model) somewhere in the thrown error: as its message, or in a fabric-gateway
 *    error's `details[].message`; fabric/errors.ts reads it (parseCodedError), domain-errors.ts
 *    classifies it and http/dependency-errors.ts maps it to a status;
 *  - an unreachable or timed-out dependency throws DependencyUnavailableError (or lets the
 *    gRPC UNAVAILABLE / DEADLINE_EXCEEDED error, or the network error, through): that maps to
 *    503 with Retry-After.
 *
 * Every write resolves only after the transaction is committed (submit + commit status), so
 * the service layer can rely on "returned" meaning "on the ledger".
 */
import type { Keyring } from './crypto/index.js';
import type {
    AccessRequest,
    Actor,
    AuditEvent,
    Category,
    Committed,
    ComponentHealth,
    Consent,
    Hospital,
    Patient,
    Purpose,
    RecordMeta,
    Scope,
} from './domain.js';

export interface NewRecord {
    /** Chosen by the gateway (UUID): chaincode must stay deterministic across endorsers. */
    recordId: string;
    patientId: string;
    cid: string;
    /** Ciphertext bytes (the ledger's `size`). */
    ciphertextSize: number;
    category: Category;
    supersedes?: string;
}

export interface NewConsent {
    patientId: string;
    grantee: string;
    scope: Scope;
    purposes: Purpose[];
    expiresAt?: string;
}

export interface NewAccessRequest {
    patientId: string;
    purpose: Purpose;
    scope: Scope;
    reason: string;
}

export interface AccessLogged extends Committed {
    /** What allowed the access: a consentId, `custodian` or `home`. */
    basis: string;
}

export interface TransactionLocation {
    txId: string;
    blockNumber: number;
}

/** The paginated lists (DESIGN §9) and what one item of each is. */
export interface ListItems {
    records: RecordMeta;
    consents: Consent;
    requests: AccessRequest;
    auditRecord: AuditEvent;
    auditPatient: AuditEvent;
}
export type ListKind = keyof ListItems;

/** A page request after validation: the page size and the chaincode position ('' = first page). */
export interface PageRequest {
    limit: number;
    after: string;
}

export interface Page<T> {
    items: T[];
    /** The chaincode's position after this page; '' when it was the last. */
    next: string;
}

export interface RecordPlan {
    patient: Patient;
    /** Hospitals other than this one and the home hospital that may read the new record. */
    grantees: string[];
}

export interface OpenedRecord {
    record: RecordMeta;
    envelope?: string;
}

export interface Ledger {
    /** Consortium members with their encryption keys. */
    listHospitals(): Promise<Hospital[]>;

    /** Registers a patient pseudonym with this hospital as home; CONFLICT when it exists. */
    registerPatient(actor: Actor, patientId: string): Promise<Patient & Committed>;
    /** NOT_FOUND when unknown. */
    getPatient(actor: Actor, patientId: string): Promise<Patient>;

    /**
     * What a store of `recordId` needs before it writes (`Records:PlanRecord`): the patient
     * (NOT_FOUND when unknown) and the other hospitals a consent in force lets read the new
     * record, whose envelopes may ride in the CreateRecord itself.
     */
    planRecord(actor: Actor, patientId: string, recordId: string, category: Category): Promise<RecordPlan>;

    /**
     * Creates a record with this hospital as custodian. `envelopes` maps mspId to the wrapped
     * data key and must travel as transient data; the adapter names those orgs as endorsers
     * (an implicit collection needs its owner's endorsement). Envelopes of the hospitals in
     * `optional` (a plan's grantees) are a shortcut, not a condition: when the write with
     * them fails before it could have committed (a grantee's peer down, its consent revoked
     * meanwhile), it is written without them, and the custodian delivers them later.
     */
    createRecord(
        actor: Actor,
        record: NewRecord,
        envelopes: ReadonlyMap<string, string>,
        optional?: ReadonlySet<string>,
    ): Promise<RecordMeta & Committed>;
    /** NOT_FOUND when unknown; FORBIDDEN when the caller may not see it. Erased records are returned with status `erased`. */
    getRecord(actor: Actor, recordId: string): Promise<RecordMeta>;
    /** Records of the patient that the caller may see (`Records:ListRecords` with purpose ''). */
    listRecords(actor: Actor, patientId: string): Promise<RecordMeta[]>;
    /**
     * One page of a list (`Lists:*Page`) of a patient (records, consents, requests,
     * auditPatient) or a record (auditRecord), with the same need-to-know as the whole lists.
     */
    listPage<K extends ListKind>(actor: Actor, kind: K, subject: string, page: PageRequest): Promise<Page<ListItems[K]>>;
    /** The transaction that created the record, with its block (for auditors' verification). */
    locateRecord(actor: Actor, recordId: string): Promise<TransactionLocation>;
    /** Marks the record erased (custodian or home hospital, patient actor). */
    eraseRecord(actor: Actor, recordId: string): Promise<RecordMeta & Committed>;

    /**
     * Logs a disclosure and resolves once it is committed: audit before disclosure. Rejects
     * with FORBIDDEN when no basis allows it, GONE when erased.
     */
    logAccess(actor: Actor, recordId: string, purpose: Purpose): Promise<AccessLogged>;
    /**
     * This hospital's envelope for the record, read from its own implicit collection
     * (`Access:GetEnvelope`, evaluated on its own peer); `undefined` when access is allowed but
     * the custodian has not delivered it yet (the chaincode's `NOT_FOUND: no envelope for ... yet`).
     * Other rejections (FORBIDDEN, GONE) are thrown.
     */
    readEnvelope(actor: Actor, recordId: string, purpose: Purpose): Promise<string | undefined>;
    /**
     * The record and this hospital's envelope for a read for `purpose`, in one evaluation on
     * its own peer (`Access:OpenRecord`), which judges the access rule as GetEnvelope does:
     * NOT_FOUND without any basis, GONE when erased, FORBIDDEN for the purpose. `envelope` is
     * `undefined` while the custodian has not delivered it.
     */
    openRecord(actor: Actor, recordId: string, purpose: Purpose): Promise<OpenedRecord>;

    grantConsent(actor: Actor, consent: NewConsent): Promise<Consent & Committed>;
    revokeConsent(actor: Actor, consentId: string): Promise<Consent & Committed>;
    listConsents(actor: Actor, patientId: string): Promise<Consent[]>;

    createRequest(actor: Actor, request: NewAccessRequest): Promise<AccessRequest & Committed>;
    listRequests(actor: Actor, patientId: string): Promise<AccessRequest[]>;
    /** Approval creates the consent (purpose and scope of the request); `expiresAt` only on approve. */
    decideRequest(
        actor: Actor,
        requestId: string,
        decision: 'approve' | 'reject',
        options?: { expiresAt?: string },
    ): Promise<AccessRequest & Committed>;

    auditRecord(actor: Actor, recordId: string): Promise<AuditEvent[]>;
    auditPatient(actor: Actor, patientId: string): Promise<AuditEvent[]>;

    /** One entry, named `fabric`. Must not throw. */
    health(): Promise<ComponentHealth[]>;
}

/** What a batch delivery did with each record (`Access:DeliverEnvelopes`). */
export interface BatchDelivery {
    txId: string;
    /** Stored for the grantee in this transaction. */
    delivered: string[];
    /** The grantee held one already (delivered by the other holder, or a replay). */
    skipped: string[];
    /** recordId → the rule's code (NOT_FOUND, GONE, FORBIDDEN): final, not worth a retry. */
    refused: Record<string, string>;
}

/**
 * The ledger as the custody outbox (fabric/custody.ts) needs it: the follower's
 * port, so it depends on no concrete adapter or raw contract call. Calls act as the
 * hospital itself (its gateway identity); coded chaincode refusals keep their code.
 */
export interface CustodyLedger {
    listHospitals(): Promise<Hospital[]>;
    getPatient(actor: Actor, patientId: string): Promise<Patient>;
    getRecord(actor: Actor, recordId: string): Promise<RecordMeta>;
    /** The patient's records this hospital may open (all of them for the home hospital). */
    listRecords(actor: Actor, patientId: string): Promise<RecordMeta[]>;
    listConsents(actor: Actor, patientId: string): Promise<Consent[]>;
    getConsent(consentId: string): Promise<Consent>;
    /**
     * This hospital's own envelopes for the records it may open and holds one for
     * (`Access:GetEnvelopes`), leaving out those `exceptHeldBy` holds already.
     */
    readOwnEnvelopes(recordIds: readonly string[], exceptHeldBy?: string): Promise<Map<string, string>>;
    /** Many envelopes (recordId → wrapped key) for one grantee in one transaction; needs the grantee's endorsement. */
    deliverEnvelopes(grantee: string, envelopes: ReadonlyMap<string, string>): Promise<BatchDelivery>;
    /** Purges this hospital's own envelope; NOT_FOUND when it holds none, CONFLICT while access holds. */
    purgeEnvelope(recordId: string): Promise<string>;
    /** The patient's records this hospital holds an envelope for now, even those it can no longer open (`Access:ListHeld`). */
    listHeld(patientId: string): Promise<string[]>;
}

export interface StoredBlob {
    cid: string;
    /** Ciphertext bytes stored. */
    size: number;
}

export interface PinLocation {
    peerId: string;
    peerName: string;
    /** Cluster's pin status on that peer, e.g. `pinned`, `pinning`. */
    status: string;
}

export interface BlobStore {
    /** Streams the blob in (pinned with the cluster's replication); never buffers it whole. */
    add(content: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob>;
    /**
     * Streams the blob out of the hospital's own node. Every block is checked against its
     * CID as it is read; a local block that fails is dropped and refetched from a replica
     * (reported to `blobIntegrity`), and the stream resumes where it stopped. Throws
     * BlobCorruptedError when no intact copy can be had, BlobUnretrievableError when no
     * data arrives in time.
     */
    cat(cid: string, signal?: AbortSignal): AsyncIterable<Uint8Array>;
    pins(cid: string): Promise<PinLocation[]>;
    unpin(cid: string): Promise<void>;
    /**
     * Removes the blob's blocks from the hospital's own IPFS node (erasure) and answers how
     * many it removed (0: it held none). Throws BlobStillPinnedError while this node still
     * pins the blob: the cluster-wide unpin has not reached it yet.
     */
    discard(cid: string): Promise<number>;
    /** Entries named `kubo` and `cluster`. Must not throw. */
    health(): Promise<ComponentHealth[]>;
}

/** This hospital's identity and keys, as the services need them. */
export interface HospitalIdentity {
    mspId: string;
    /** The encryption private keys (current and kept after rotations); they never leave the gateway. */
    keys: Keyring;
}

/** Thrown by adapters when a dependency cannot be reached or does not answer in time. */
export class DependencyUnavailableError extends Error {
    readonly dependency: string;

    constructor(dependency: string, message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = 'DependencyUnavailableError';
        this.dependency = dependency;
    }
}

/** What a blob store did about a copy that does not match its CID. */
export type BlobCorruptionAction =
    /** A read met a local block that does not hash to its CID. */
    | 'detected'
    /** Corrupted local blocks were removed from the node's repo (`blocks` of them). */
    | 'dropped'
    /** The read went on with blocks refetched (hash-checked) from a replica. */
    | 'healed'
    /** No intact copy could be fetched: the read failed. */
    | 'unrecoverable';

export interface BlobIntegrityEvent {
    cid: string;
    action: BlobCorruptionAction;
    /** Blocks concerned (`dropped`: how many were removed, possibly of other blobs too). */
    blocks: number;
}

/**
 * Where blob stores report corruption they meet, for whoever watches: the metrics
 * (ehr_blob_corruptions_total) and the record service (its logs, and `verify`'s verdict on
 * a copy that a read healed). Listeners must not throw; one that does is ignored.
 */
export class BlobIntegrityMonitor {
    readonly #listeners = new Set<(event: BlobIntegrityEvent) => void>();

    report(event: BlobIntegrityEvent): void {
        for (const listener of this.#listeners) {
            try {
                listener(event);
            } catch {
                // A watcher's failure must not break a read.
            }
        }
    }

    /** Returns the function that unsubscribes. */
    subscribe(listener: (event: BlobIntegrityEvent) => void): () => void {
        this.#listeners.add(listener);
        return () => this.#listeners.delete(listener);
    }

    /** Collects the events of one CID until the returned `stop` is called. */
    watch(cid: string): { events: BlobIntegrityEvent[]; stop: () => void } {
        const events: BlobIntegrityEvent[] = [];
        const stop = this.subscribe((e) => {
            if (e.cid === cid) events.push(e);
        });
        return { events, stop };
    }
}

/**
 * The process's integrity reports. One per process, like the default Prometheus metrics:
 * the blob store reports here, so its instrumentation wrapper needs no extra method.
 */
export const blobIntegrity = new BlobIntegrityMonitor();

/** The blob's blocks do not match its CID on this node, and no replica supplied intact ones. */
export class BlobCorruptedError extends Error {
    readonly cid: string;

    constructor(cid: string, message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = 'BlobCorruptedError';
        this.cid = cid;
    }
}

/** Discarding an erased blob's blocks waits until this hospital's node no longer pins it. */
export class BlobStillPinnedError extends Error {
    readonly cid: string;

    constructor(cid: string, options?: ErrorOptions) {
        super(`blob ${cid} is still pinned on this hospital's IPFS node (the cluster-wide unpin has not reached it yet)`, options);
        this.name = 'BlobStillPinnedError';
        this.cid = cid;
    }
}

/** The blob (or the rest of it) could not be fetched: no data arrived in time. */
export class BlobUnretrievableError extends Error {
    readonly cid: string;

    constructor(cid: string, message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = 'BlobUnretrievableError';
        this.cid = cid;
    }
}
