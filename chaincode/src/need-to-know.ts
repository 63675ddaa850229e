// What a hospital may learn about a patient (DESIGN §9, need-to-know). The
// calling hospital always comes from the client identity, never from an
// argument. A hospital without a basis gets NOT_FOUND worded exactly as for an
// unknown ID, so the answer does not reveal that the patient or record exists.
import type { Context } from 'fabric-contract-api';
import { consentsOf } from './access-policy';
import { notFound } from './errors';
import { consentInForce, scopeCovers, type AccessRequest, type AuditEntry, type Consent, type Patient, type RecordMeta } from '@ehr/ledger-model';
import { exists, fromBytes, getJson, key, KEY, scan, someRow, txTime } from './state';

/**
 * Why a hospital may know about a patient: it is the patient's home, it is the
 * custodian of one of the patient's records, or it holds a consent in force.
 */
export type PatientBasis = 'home' | 'custodian' | 'consent';

/** A hospital's view of one patient: its basis and the records and consents that give it. */
export interface PatientView {
  basis: PatientBasis;
  mspId: string;
  patientId: string;
  patient: Patient;
  /** The patient's records this hospital may see (all of them for the home). */
  records: Map<string, RecordMeta>;
  /** Consents this hospital may see: all for home and custodians, its own otherwise. */
  consents: Map<string, Consent>;
}

export const unknownPatient = (patientId: string) => notFound(`patient ${patientId} does not exist`);
export const unknownRecord = (recordId: string) => notFound(`record ${recordId} does not exist`);

async function patientRecords(ctx: Context, patientId: string): Promise<Map<string, RecordMeta>> {
  const out = new Map<string, RecordMeta>();
  for (const row of await scan(ctx, KEY.patientRecord, [patientId])) {
    const recordId = row.attributes[1];
    const record = await getJson<RecordMeta>(ctx, key(ctx, KEY.record, recordId));
    if (record) out.set(recordId, record);
  }
  return out;
}

/** The record is visible to mspId: custodian, home, or covered by one of its consents in force. */
export function recordVisible(recordId: string, record: RecordMeta, home: boolean, mspId: string, own: Consent[], now: string): boolean {
  if (home || record.custodian === mspId) return true;
  return own.some((c) => consentInForce(c, now) && scopeCovers(c.scope, recordId, record));
}

/** The caller's view of the patient, or null when it has no basis. */
export async function patientView(ctx: Context, patientId: string): Promise<PatientView | null> {
  const all = await patientRecords(ctx, patientId);
  const standing = await patientStanding(ctx, patientId, all);
  if (!standing) return null;
  const { mspId, patient, own } = standing;
  const home = standing.basis === 'home';
  const now = txTime(ctx);
  const records = new Map([...all].filter(([id, r]) => recordVisible(id, r, home, mspId, own, now)));
  return { basis: standing.basis, mspId, patientId, patient, records, consents: standing.consents };
}

/** A hospital's basis for a patient and the consents it may see: PatientView without the records. */
export type PatientStanding = Omit<PatientView, 'records'> & { own: Consent[] };

/**
 * The caller's basis for the patient and the consents it may see, without reading the
 * patient's records (the custodian index answers "custodian of one of them"), so it costs
 * O(the patient's consents), not O(its records). `records`, when the caller has them read
 * already, answers the custodian question instead.
 */
export async function patientStanding(ctx: Context, patientId: string, records?: Map<string, RecordMeta>): Promise<PatientStanding | null> {
  const mspId = ctx.clientIdentity.getMSPID();
  const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, patientId));
  if (!patient) return null;
  const now = txTime(ctx);
  const allConsents = await consentsOf(ctx, patientId);
  const own = allConsents.filter((r) => r.consent.grantee === mspId).map((r) => r.consent);
  const basis: PatientBasis | null =
    patient.homeHospital === mspId
      ? 'home'
      : (await custodianOf(ctx, patientId, mspId, records))
        ? 'custodian'
        : own.some((c) => consentInForce(c, now))
          ? 'consent'
          : null;
  if (basis === null) return null;
  const consents = new Map(
    allConsents.filter((r) => basis !== 'consent' || r.consent.grantee === mspId).map((r) => [r.consentId, r.consent]),
  );
  return { basis, mspId, patientId, patient, consents, own };
}

/**
 * Whether mspId is the custodian of one of the patient's records: the patient~custodian
 * index, which CreateRecord keeps; for records created before it was kept, a scan that
 * stops at the first of mspId's records.
 */
export async function custodianOf(ctx: Context, patientId: string, mspId: string, records?: Map<string, RecordMeta>): Promise<boolean> {
  if (records) return [...records.values()].some((r) => r.custodian === mspId);
  if (await exists(ctx, key(ctx, KEY.patientCustodian, patientId, mspId))) return true;
  return someRow(ctx, KEY.patientRecord, [patientId], async (row) => {
    const record = await getJson<RecordMeta>(ctx, key(ctx, KEY.record, row.attributes[1]));
    return record?.custodian === mspId;
  });
}

/** The caller's view of the patient; NOT_FOUND (as for an unknown patient) without a basis. */
export async function requirePatientView(ctx: Context, patientId: string): Promise<PatientView> {
  const view = await patientView(ctx, patientId);
  if (!view) throw unknownPatient(patientId);
  return view;
}

/**
 * A record the caller may see (custodian, home, or a covering consent in force),
 * erased or not; NOT_FOUND (as for an unknown record) otherwise. Judged from the record,
 * the patient and the caller's own consents: O(1) in the patient's records.
 */
export async function requireVisibleRecord(ctx: Context, recordId: string): Promise<{ record: RecordMeta; patient: Patient }> {
  const record = await getJson<RecordMeta>(ctx, key(ctx, KEY.record, recordId));
  if (!record) throw unknownRecord(recordId);
  const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, record.patientId));
  if (!patient) throw unknownRecord(recordId);
  const mspId = ctx.clientIdentity.getMSPID();
  const home = patient.homeHospital === mspId;
  const own = home || record.custodian === mspId ? [] : (await consentsOf(ctx, record.patientId, mspId)).map((r) => r.consent);
  if (!recordVisible(recordId, record, home, mspId, own, txTime(ctx))) throw unknownRecord(recordId);
  return { record, patient };
}

/** Access requests are the home hospital's and the requester's business only. */
export function requestVisible(request: AccessRequest, mspId: string, patient: Patient): boolean {
  return patient.homeHospital === mspId || request.requester === mspId;
}

/** The patient's access requests the caller may see, or null when it may see nothing of the patient. */
export async function visibleRequests(ctx: Context, patientId: string): Promise<Array<AccessRequest & { requestId: string }> | null> {
  const mspId = ctx.clientIdentity.getMSPID();
  const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, patientId));
  if (!patient) return null;
  const out: Array<AccessRequest & { requestId: string }> = [];
  for (const row of await scan(ctx, KEY.patientRequest, [patientId])) {
    const requestId = row.attributes[1];
    const bytes = await ctx.stub.getState(key(ctx, KEY.request, requestId));
    if (!bytes || bytes.length === 0) continue;
    const request = fromBytes<AccessRequest>(bytes);
    if (requestVisible(request, mspId, patient)) out.push({ requestId, ...request });
  }
  // A hospital that asked knows the patient exists; one with no request needs another basis.
  if (out.length === 0 && patient.homeHospital !== mspId && !(await patientView(ctx, patientId))) return null;
  return out;
}

/**
 * The audit entries the caller may see: everything for the home hospital; for
 * others the records they may see, the consents they may see, their own
 * requests, and accesses by themselves (a custodian also sees the accesses to
 * its own records: it is the one disclosing).
 */
export function visibleEntries(entries: AuditEntry[], view: PatientView, requests: Set<string>): AuditEntry[] {
  if (view.basis === 'home') return entries;
  return entries.filter((e) => {
    switch (e.subject.type) {
      case 'patient':
        return true;
      case 'consent':
        return view.consents.has(e.subject.id);
      case 'request':
        return requests.has(e.subject.id);
      case 'record': {
        const record = view.records.get(e.subject.id);
        if (!record) return false;
        if (e.action !== 'RecordAccessed') return true;
        return e.hospital === view.mspId || record.custodian === view.mspId;
      }
      default:
        return false;
    }
  });
}
