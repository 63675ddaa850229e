/*
 * The gateway's view of the ledger model (DESIGN §4): the chaincode's values
 * (@ehr/ledger-model) with their IDs, which the ledger keeps in the keys.
 * Checking the same vocabularies here means bad input never costs an endorsement.
 */
import {
    ACTOR_ROLES,
    type AccessRequest as LedgerAccessRequest,
    type EventName,
    type ActorRole,
    type Consent as LedgerConsent,
    type Hospital as LedgerHospital,
    type Patient as LedgerPatient,
    type Purpose,
    type RecordMeta as LedgerRecordMeta,
} from '@ehr/ledger-model';

export {
    CATEGORIES,
    CONSENT_STATUSES,
    PURPOSES,
    RECORD_STATUSES,
    REQUEST_STATUSES,
    type Category,
    type ConsentStatus,
    type EventPayload,
    type LedgerEvents,
    type Purpose,
    type RecordStatus,
    type RequestDecision,
    type RequestStatus,
    type Scope,
} from '@ehr/ledger-model';

export const ROLES = ACTOR_ROLES;
export type Role = ActorRole;

/** Who acts, as asserted by the hospital's identity provider; the ledger records `id` as the actor pseudonym. */
export interface Actor {
    /** Actor pseudonym, or the patientId when role is `patient`. */
    id: string;
    role: Role;
}

export type Hospital = LedgerHospital & { mspId: string };
export type Patient = LedgerPatient & { patientId: string };
/**
 * A record's metadata. The ledger's `size` is named for what it counts here, so it cannot be
 * mistaken for the document's size; the chaincode keeps `size` on the ledger and in JSON.
 */
export type RecordMeta = Omit<LedgerRecordMeta, 'size'> & {
    recordId: string;
    /** Bytes of ciphertext in IPFS (the ledger's `size`). */
    ciphertextSize: number;
};

/** A record as the chaincode returns it (`{recordId, ...value}`), in the gateway's terms. */
export function recordFromLedger({ size, ...rest }: LedgerRecordMeta & { recordId: string }): RecordMeta {
    return { ...rest, ciphertextSize: size };
}
export type Consent = LedgerConsent & { consentId: string };
export type AccessRequest = LedgerAccessRequest & { requestId: string };

/** The ledger events (LedgerEvents) an audit trail shows. */
export const AUDIT_EVENT_TYPES = [
    'PatientRegistered',
    'RecordCreated',
    'RecordAccessed',
    'RecordErased',
    'ConsentGranted',
    'ConsentRevoked',
    'AccessRequested',
    'RequestDecided',
    'EnvelopeDelivered',
    'EnvelopePurged',
] as const satisfies readonly EventName[];
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** One state change or disclosure, as an auditor sees it. */
export interface AuditEvent {
    type: AuditEventType;
    txId: string;
    /** Block number when the ledger adapter can tell it (history entries carry none). */
    blockNumber: number | null;
    timestamp: string;
    /** MSP ID of the hospital whose gateway submitted the transaction. */
    hospital: string;
    /** Actor pseudonym. */
    actor: string;
    patientId: string;
    recordId?: string;
    consentId?: string;
    requestId?: string;
    purpose?: Purpose;
    /** For RecordAccessed: a consentId, `custodian` or `home`. */
    basis?: string;
    /**
     * For RecordAccessed: the actor's role as the accessing gateway vouched for it, or
     * `unrecorded` (UNRECORDED_ROLE) on entries written before the ledger kept it.
     */
    actorRole?: string;
}

/** A committed transaction. */
export interface Committed {
    txId: string;
}

export interface ComponentHealth {
    /** e.g. `fabric`, `kubo`, `cluster`. */
    name: string;
    up: boolean;
    detail?: string;
}
