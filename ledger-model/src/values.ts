// Ledger values, exactly the fields of DESIGN §4. IDs live in the keys; the
// contracts add them back in their responses.
import type { EmergencyGrant } from './break-glass.js';
import type { ActorRole, Category, ConsentStatus, Purpose, Reason, RecordStatus, RequestStatus } from './vocabulary.js';

export interface Hospital {
  name: string;
  publicKey: string; // SPKI PEM, P-256
  registeredAt: string;
}

export interface Patient {
  homeHospital: string;
  registeredAt: string;
  /**
   * Actor pseudonym of the clinician or admin who registered the patient (beyond §4, like
   * requestedBy: history values carry no creator). Absent on patients registered before it
   * was recorded; the audit trail then names LEGACY_ACTOR of the home hospital.
   */
  registeredBy?: string;
}

export interface RecordMeta {
  patientId: string;
  custodian: string;
  cid: string;
  /** Bytes of ciphertext (the encrypted blob in IPFS), never the document's own size. */
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

export interface Consent {
  patientId: string;
  grantee: string;
  scope: Scope;
  purposes: Purpose[];
  grantedAt: string;
  expiresAt: string | null;
  status: ConsentStatus;
  revokedAt: string | null;
  /** Present only on break-glass grants (purpose emergency, declared by the grantee). */
  emergency?: EmergencyGrant;
}

// requestedAt/requestedBy go beyond §4 on purpose: without them an auditor
// could not tell which clinician asked, since history values carry no creator.
export interface AccessRequest {
  patientId: string;
  requester: string;
  purpose: Purpose;
  scope: Scope;
  /**
   * A code from REASONS. Requests made before the vocabulary carry the short free text that
   * was allowed then; readers show it as it is.
   */
  reason: Reason | string;
  status: RequestStatus;
  requestedAt: string;
  requestedBy: string;
  decidedAt: string | null;
  consentId: string | null;
}

/** basis: a consentId, `breakglass:<consentId>`, or 'custodian', or 'home'. */
export interface AccessEntry {
  accessor: string;
  actor: string;
  /**
   * The actor's role as the accessing hospital's gateway vouches for it (from the verified
   * token). Absent on entries written before it was recorded: readers show UNRECORDED_ROLE.
   */
  role?: ActorRole;
  purpose: Purpose;
  at: string;
  basis: string;
}

/** Public marker that a hospital holds an envelope (so patients can see who holds what). */
export interface Holder {
  since: string;
  deliveredBy: string;
}

export interface Envelope {
  envelope: string; // base64 of the wrapped data key
  storedAt: string;
}

export interface Actor {
  id: string;
  role: ActorRole;
}
