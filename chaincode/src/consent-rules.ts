// Shared by Consents (direct grant) and AccessRequests (approval creates a consent):
// who may act for a patient, and what a new consent must satisfy.
import type { Context } from 'fabric-contract-api';
import { conflict, forbidden, invalid, notFound } from './errors';
import { getMember, requirePatient, requireRecord } from './lookups';
import { exists, key, KEY, putIndex, putJson, txTime } from './state';
import { consentInForce, type Actor, type Consent, type EmergencyGrant, type Patient, type Purpose, type Scope } from '@ehr/ledger-model';

/** Consent decisions go through the patient's home hospital, acting for that very patient. */
export async function requirePatientAtHome(ctx: Context, mspId: string, who: Actor, patientId: string): Promise<Patient> {
  if (who.role !== 'patient' || who.id !== patientId) {
    throw forbidden('only the patient may decide on their consents and requests');
  }
  const patient = await requirePatient(ctx, patientId);
  if (patient.homeHospital !== mspId) throw forbidden(`only ${patient.homeHospital}, the home hospital, acts for this patient`);
  return patient;
}

/** Record IDs in a scope must name this patient's records, or consent could be granted on someone else's. */
export async function checkScopeRecords(ctx: Context, patientId: string, scope: Scope): Promise<void> {
  if (scope.type !== 'recordIds') return;
  for (const recordId of scope.recordIds) {
    const record = await requireRecord(ctx, recordId);
    if (record.patientId !== patientId) throw invalid(`record ${recordId} belongs to another patient`);
  }
}

export interface NewConsent {
  consentId: string;
  patientId: string;
  patient: Patient;
  grantee: string;
  scope: Scope;
  purposes: Purpose[];
  expiresAt: string | null;
  /** Only for break-glass grants (contracts/emergency-access.ts). */
  emergency?: EmergencyGrant;
}

export async function writeConsent(ctx: Context, c: NewConsent): Promise<Consent> {
  const now = txTime(ctx);
  if (c.expiresAt !== null && Date.parse(c.expiresAt) <= Date.parse(now)) {
    throw invalid('expiresAt must be in the future');
  }
  if (c.grantee === c.patient.homeHospital) throw invalid('the home hospital needs no consent');
  if (!(await getMember(ctx, c.grantee))) throw notFound(`hospital ${c.grantee} is not registered or has left the consortium`);
  const k = key(ctx, KEY.consent, c.consentId);
  if (await exists(ctx, k)) throw conflict(`consent ${c.consentId} already exists`);
  const consent: Consent = {
    patientId: c.patientId,
    grantee: c.grantee,
    scope: c.scope,
    purposes: c.purposes,
    grantedAt: now,
    expiresAt: c.expiresAt,
    status: 'active',
    revokedAt: null,
    ...(c.emergency ? { emergency: c.emergency } : {}),
  };
  await putJson(ctx, k, consent);
  await putIndex(ctx, KEY.patientConsent, c.patientId, c.grantee, c.consentId);
  return consent;
}

export const consentView = (ctx: Context, consentId: string, consent: Consent) => ({
  consentId,
  ...consent,
  inForce: consentInForce(consent, txTime(ctx)),
});
