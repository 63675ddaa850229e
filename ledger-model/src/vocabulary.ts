// Small fixed vocabularies: anything outside them is rejected, so free text
// (and with it PHI) cannot reach the ledger through these fields.
export const CATEGORIES = ['note', 'lab', 'imaging', 'prescription', 'discharge', 'other', 'vitals'] as const;
export type Category = (typeof CATEGORIES)[number];

// `emergency` is the purpose of break-glass grants (break-glass.ts).
export const PURPOSES = ['treatment', 'research', 'insurance', 'public-health', 'payment', 'operations', 'emergency'] as const;
export type Purpose = (typeof PURPOSES)[number];

// The lifecycles of records, consents and access requests.
export const RECORD_STATUSES = ['active', 'erased'] as const;
export type RecordStatus = (typeof RECORD_STATUSES)[number];

export const CONSENT_STATUSES = ['active', 'revoked'] as const;
export type ConsentStatus = (typeof CONSENT_STATUSES)[number];

export const REQUEST_STATUSES = ['pending', 'approved', 'rejected'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];
/** What a decision makes of a pending request. */
export type RequestDecision = Exclude<RequestStatus, 'pending'>;

// researcher: aggregate statistics only (ledger-model research.ts), never a patient's data.
export const ACTOR_ROLES = ['clinician', 'patient', 'auditor', 'admin', 'researcher'] as const;
export type ActorRole = (typeof ACTOR_ROLES)[number];

export const IDENTITY_ROLES = ['gateway', 'admin', 'auditor'] as const;
export type IdentityRole = (typeof IDENTITY_ROLES)[number];

// Why a clinician asks for another hospital's records. Stored in clear on the
// ledger, so a code from this list, never free text (which could carry PHI).
export const REASONS = ['referral', 'second-opinion', 'emergency', 'follow-up', 'continuity-of-care', 'transfer', 'other'] as const;
export type Reason = (typeof REASONS)[number];

/**
 * The role shown for an access entry written before entries recorded the actor's role
 * (THREATS #7): not a role anyone can hold, so it never passes for one.
 */
export const UNRECORDED_ROLE = 'unrecorded';
