// The one access rule every read, log and delivery goes through (DESIGN §4):
// custodian, the patient's home hospital, or an active, unexpired consent whose
// scope covers the record and whose purposes include the stated purpose.
import type { Context } from 'fabric-contract-api';
import { forbidden, gone, notFound } from './errors';
import { requirePatient } from './lookups';
import { fromBytes, getJson, key, KEY, scan, txTime } from './state';
import { accessBasis as judgeAccess, consentInForce, scopeCovers, type AccessBasis, type Consent, type Patient, type Purpose, type RecordMeta } from '@ehr/ledger-model';

export type Basis = AccessBasis;

// The pure rule (judged on a timestamp the caller passes) lives in the shared model;
// this module reads the ledger for it and judges on the transaction timestamp.
export { consentInForce, scopeCovers };

export interface ConsentRow {
  consentId: string;
  consent: Consent;
}

/** The patient's consents, optionally only those for one grantee, via the patient~grantee~consent index. */
export async function consentsOf(ctx: Context, patientId: string, grantee?: string): Promise<ConsentRow[]> {
  const rows = await scan(ctx, KEY.patientConsent, grantee === undefined ? [patientId] : [patientId, grantee]);
  const out: ConsentRow[] = [];
  for (const row of rows) {
    const consentId = row.attributes[2];
    const bytes = await ctx.stub.getState(ctx.stub.createCompositeKey(KEY.consent, [consentId]));
    if (bytes && bytes.length > 0) out.push({ consentId, consent: fromBytes<Consent>(bytes) });
  }
  return out;
}

/**
 * The basis on which mspId may access the record for purpose (any purpose when null),
 * or null. Erasure is checked by the caller: it is GONE, not a denial.
 */
export async function accessBasis(
  ctx: Context,
  recordId: string,
  record: RecordMeta,
  patient: Patient,
  mspId: string,
  purpose: Purpose | null,
): Promise<Basis | null> {
  const question = { mspId, recordId, record, homeHospital: patient.homeHospital, purpose, at: txTime(ctx) };
  // Custodian and home need no ledger read.
  const direct = judgeAccess({ ...question, consents: [] });
  if (direct !== null) return direct;
  return judgeAccess({ ...question, consents: await consentsOf(ctx, record.patientId, mspId) });
}

export interface Granted {
  record: RecordMeta;
  patient: Patient;
  basis: Basis;
}

/**
 * NOT_FOUND when the record is unknown or the caller has no basis at all for it
 * (need-to-know: the same answer, so it does not reveal the record exists), then
 * GONE for erased records, then FORBIDDEN when a basis exists but not for this purpose.
 */
export async function requireAccess(
  ctx: Context,
  recordId: string,
  mspId: string,
  purpose: Purpose | null,
): Promise<Granted> {
  const record = await getJson<RecordMeta>(ctx, key(ctx, KEY.record, recordId));
  if (!record) throw notFound(`record ${recordId} does not exist`);
  const patient = await requirePatient(ctx, record.patientId);
  if ((await accessBasis(ctx, recordId, record, patient, mspId, null)) === null) throw notFound(`record ${recordId} does not exist`);
  if (record.status === 'erased') throw gone(`record ${recordId} has been erased`);
  const basis = await accessBasis(ctx, recordId, record, patient, mspId, purpose);
  if (basis === null) {
    throw forbidden(`${mspId} has no access to record ${recordId}${purpose ? ` for purpose ${purpose}` : ''}`);
  }
  return { record, patient, basis };
}
