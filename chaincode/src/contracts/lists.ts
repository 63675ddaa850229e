import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { consentsOf, type ConsentRow } from '../access-policy';
import { consentView } from '../consent-rules';
import { accessBasis as judgeAccess, consentInForce, type AccessRequest, type AuditEntry, type Consent, type Patient, type RecordMeta } from '@ehr/ledger-model';
import { getJson, key, KEY, someRow, txTime } from '../state';
import { custodianOf, recordVisible, requestVisible, unknownPatient, type PatientBasis } from '../need-to-know';
import { pageOfSorted, pageSize, walkObjects } from '../pages';
import { patientTrail, recordTrail } from './audit';
import * as v from '../validate';

/**
 * What the calling hospital stands on for one patient, found without reading the
 * patient's records: home (one read), custodian (the patient~custodian index; need-to-know's
 * custodianOf), else a consent in force (its own consents only). Same answer as
 * need-to-know's patientView, at the cost of a page.
 */
interface Standing {
  mspId: string;
  patient: Patient;
  basis: PatientBasis | null;
  own: ConsentRow[];
  now: string;
}

async function standing(ctx: Context, patientId: string): Promise<Standing | null> {
  const mspId = ctx.clientIdentity.getMSPID();
  const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, patientId));
  if (!patient) return null;
  const now = txTime(ctx);
  const own = await consentsOf(ctx, patientId, mspId);
  if (patient.homeHospital === mspId) return { mspId, patient, basis: 'home', own, now };
  const custodian = await custodianOf(ctx, patientId, mspId);
  const basis = custodian ? 'custodian' : own.some((r) => consentInForce(r.consent, now)) ? 'consent' : null;
  return { mspId, patient, basis, own, now };
}

async function requireStanding(ctx: Context, patientId: string): Promise<Standing & { basis: PatientBasis }> {
  const s = await standing(ctx, patientId);
  if (!s || s.basis === null) throw unknownPatient(patientId);
  return s as Standing & { basis: PatientBasis };
}

/**
 * An audit entry's place in a trail: oldest first, ties broken so the order is total.
 * Within one transaction its own action comes before the envelopes it handed out
 * (a record's creation before the envelopes stored with it), as the full trail has it.
 */
const trailKey = (e: AuditEntry) =>
  [
    e.timestamp,
    e.txId,
    e.action.startsWith('Envelope') ? '1' : '0',
    e.action,
    e.subject.type,
    e.subject.id,
    String((e.details as { holder?: unknown }).holder ?? ''),
  ].join('|');

/**
 * The paginated lists (DESIGN §9): each takes a page size (1..200) and the
 * position the previous page ended at ('' for the first), and answers
 * `{items, next}` with next '' on the last page. Same need-to-know as the
 * unpaginated lists; a position outside the patient's index is INVALID_ARGUMENT.
 */
@Info({ title: 'Lists', description: 'Paginated lists of records, consents, access requests and audit trails' })
export class ListsContract extends Contract {
  constructor() {
    super('Lists');
  }

  /** ListRecords, a page at a time; with a purpose only the active records the caller may open for it. */
  @Transaction(false)
  @Returns('string')
  public async RecordsPage(ctx: Context, patientId: string, purpose: string, limit: string, after: string): Promise<string> {
    const id = v.patientId(patientId);
    const p = v.optional(purpose, 'purpose', v.purpose);
    const n = pageSize(limit);
    const s = await requireStanding(ctx, id);
    const home = s.basis === 'home';
    const own = s.own.map((r) => r.consent);
    const page = await walkObjects(ctx, { type: KEY.patientRecord, attrs: [id], at: 1 }, KEY.record, n, after, (recordId, record: RecordMeta) => {
      if (!recordVisible(recordId, record, home, s.mspId, own, s.now)) return null;
      const question = { mspId: s.mspId, recordId, record, homeHospital: s.patient.homeHospital, purpose: p, at: s.now, consents: s.own };
      const access = record.status === 'erased' ? null : judgeAccess(question);
      if (p !== null && access === null) return null;
      return { recordId, ...record, access };
    });
    return JSON.stringify(page);
  }

  /** ListConsents, a page at a time: all of them for the home hospital and custodians, a grantee's own otherwise. */
  @Transaction(false)
  @Returns('string')
  public async ConsentsPage(ctx: Context, patientId: string, limit: string, after: string): Promise<string> {
    const id = v.patientId(patientId);
    const n = pageSize(limit);
    const s = await requireStanding(ctx, id);
    const range = s.basis === 'consent' ? [id, s.mspId] : [id];
    const page = await walkObjects(ctx, { type: KEY.patientConsent, attrs: range, at: 2 }, KEY.consent, n, after, (consentId, consent: Consent) =>
      consentView(ctx, consentId, consent),
    );
    return JSON.stringify(page);
  }

  /** ListRequests, a page at a time: every request for the home hospital, a requester's own otherwise. */
  @Transaction(false)
  @Returns('string')
  public async RequestsPage(ctx: Context, patientId: string, limit: string, after: string): Promise<string> {
    const id = v.patientId(patientId);
    const n = pageSize(limit);
    const mspId = ctx.clientIdentity.getMSPID();
    const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, id));
    if (!patient) throw unknownPatient(id);
    const load = (requestId: string) => getJson<AccessRequest>(ctx, key(ctx, KEY.request, requestId));
    // A hospital that asked knows the patient exists; one that never asked needs another basis.
    if (patient.homeHospital !== mspId) {
      const asked = await someRow(ctx, KEY.patientRequest, [id], async (row) => (await load(row.attributes[1]))?.requester === mspId);
      if (!asked && (await standing(ctx, id))?.basis == null) throw unknownPatient(id);
    }
    const page = await walkObjects(ctx, { type: KEY.patientRequest, attrs: [id], at: 1 }, KEY.request, n, after, (requestId, request: AccessRequest) =>
      requestVisible(request, mspId, patient) ? { requestId, ...request } : null,
    );
    return JSON.stringify(page);
  }

  /** Audit:RecordHistory a page at a time (the trail is merged from several histories, so a page costs the trail). */
  @Transaction(false)
  @Returns('string')
  public async RecordHistoryPage(ctx: Context, recordId: string, actor: string, limit: string, after: string): Promise<string> {
    const n = pageSize(limit);
    return trailPage(await recordTrail(ctx, recordId, actor), n, after);
  }

  /** Audit:PatientHistory a page at a time. */
  @Transaction(false)
  @Returns('string')
  public async PatientHistoryPage(ctx: Context, patientId: string, actor: string, limit: string, after: string): Promise<string> {
    const n = pageSize(limit);
    return trailPage(await patientTrail(ctx, patientId, actor), n, after);
  }
}

/** A page of a trail in trail order, with what the trail says of its subject. */
function trailPage<S extends { entries: AuditEntry[] }>(trail: S, limit: number, after: string): string {
  const { entries, ...subject } = trail;
  return JSON.stringify({ ...subject, ...pageOfSorted([...entries].sort(byTrailKey), trailKey, limit, after) });
}

function byTrailKey(a: AuditEntry, b: AuditEntry): number {
  const ka = trailKey(a);
  const kb = trailKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
