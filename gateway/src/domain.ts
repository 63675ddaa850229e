/*
 * The gateway's view of the ledger model (DESIGN §4). Vocabularies mirror the chaincode's
 * (chaincode/src/vocabulary.ts): the chaincode rejects anything outside them, and checking
 * them here too means bad input never costs an endorsement.
 */
export const CATEGORIES = ['note', 'lab', 'imaging', 'prescription', 'discharge', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

export const PURPOSES = ['treatment', 'research', 'insurance', 'public-health', 'payment', 'operations'] as const;
export type Purpose = (typeof PURPOSES)[number];

export const ROLES = ['clinician', 'patient', 'auditor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Who acts, as asserted by the hospital's identity provider; the ledger records `id` as the actor pseudonym. */
export interface Actor {
    /** Actor pseudonym, or the patientId when role is `patient`. */
    id: string;
    role: Role;
}

export interface Hospital {
    mspId: string;
    name: string;
    /** SPKI PEM of the hospital's P-256 encryption key. */
    publicKey: string;
    registeredAt: string;
}

export interface Patient {
    patientId: string;
    homeHospital: string;
    registeredAt: string;
}

export type RecordStatus = 'active' | 'erased';

export interface RecordMeta {
    recordId: string;
    patientId: string;
    custodian: string;
    cid: string;
    /** Ciphertext bytes, as stored in IPFS. */
    size: number;
    category: Category;
    supersedes: string | null;
    status: RecordStatus;
    createdAt: string;
    createdBy: string;
}

export type Scope =
    | { type: 'all' }
    | { type: 'categories'; categories: Category[] }
    | { type: 'recordIds'; recordIds: string[] };

export type ConsentStatus = 'active' | 'revoked';

export interface Consent {
    consentId: string;
    patientId: string;
    grantee: string;
    scope: Scope;
    purposes: Purpose[];
    grantedAt: string;
    expiresAt: string | null;
    status: ConsentStatus;
    revokedAt: string | null;
}

export type RequestStatus = 'pending' | 'approved' | 'rejected';

export interface AccessRequest {
    requestId: string;
    patientId: string;
    requester: string;
    purpose: Purpose;
    scope: Scope;
    reason: string;
    status: RequestStatus;
    requestedAt: string;
    requestedBy: string;
    decidedAt: string | null;
    consentId: string | null;
}

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
] as const;
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
