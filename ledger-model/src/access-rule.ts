// The pure access rule of DESIGN §4: whether a consent's scope covers a record, whether
// it is in force at a moment, and the basis on which a hospital may access a record.
// The moment is always the caller's: the chaincode passes the transaction timestamp (so
// every endorser agrees), a gateway or a test its own clock. Nothing here reads a clock.
import type { Consent, RecordMeta, Scope } from './values.js';
import type { Purpose } from './vocabulary.js';
import { breakGlassBasis } from './break-glass.js';

/** Whether scope covers the record (its ID lives in the key, so it comes apart). */
export function scopeCovers(scope: Scope, recordId: string, record: Pick<RecordMeta, 'category'>): boolean {
  switch (scope.type) {
    case 'all':
      return true;
    case 'categories':
      return scope.categories.includes(record.category);
    case 'recordIds':
      return scope.recordIds.includes(recordId);
  }
}

/** Active and not expired at `at` (an ISO timestamp): a consent expiring exactly at `at` is no longer in force. */
export function consentInForce(consent: Pick<Consent, 'status' | 'expiresAt'>, at: string): boolean {
  return consent.status === 'active' && (consent.expiresAt === null || Date.parse(consent.expiresAt) > Date.parse(at));
}

/** Whether the consent allows purpose (any purpose when null). */
export const consentAllows = (consent: Pick<Consent, 'purposes'>, purpose: Purpose | null): boolean =>
  purpose === null || consent.purposes.includes(purpose);

/** The basis of an access: 'custodian', 'home', or otherwise the consentId that allows it (`breakglass:<consentId>` for an emergency grant). */
export type AccessBasis = 'custodian' | 'home' | string;

export interface AccessQuestion {
  /** The hospital asking. */
  mspId: string;
  recordId: string;
  record: Pick<RecordMeta, 'custodian' | 'category'>;
  /** The patient's home hospital. */
  homeHospital: string;
  /** Consents granted to mspId for the record's patient (others are ignored when grantee is given). */
  consents: Iterable<{ consentId: string; consent: Pick<Consent, 'grantee' | 'scope' | 'purposes' | 'status' | 'expiresAt' | 'emergency'> }>;
  /** The purpose of use, or null for "any purpose". */
  purpose: Purpose | null;
  /** The moment the rule is judged at (ISO timestamp): the transaction's, never the clock. */
  at: string;
}

/**
 * The basis on which mspId may access the record for purpose, or null: the custodian,
 * the patient's home hospital, or a consent to mspId in force at `at` whose scope covers
 * the record and whose purposes include purpose. Erasure is the caller's to check.
 */
export function accessBasis(q: AccessQuestion): AccessBasis | null {
  if (q.record.custodian === q.mspId) return 'custodian';
  if (q.homeHospital === q.mspId) return 'home';
  for (const { consentId, consent } of q.consents) {
    if (consent.grantee !== q.mspId) continue;
    if (!consentInForce(consent, q.at) || !scopeCovers(consent.scope, q.recordId, q.record)) continue;
    // An emergency grant is reported as such in every access entry it allows.
    if (consentAllows(consent, q.purpose)) return consent.emergency ? breakGlassBasis(consentId) : consentId;
  }
  return null;
}
