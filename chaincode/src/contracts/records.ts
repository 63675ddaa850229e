import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { accessBasis, consentsOf } from '../access-policy';
import { conflict, forbidden, gone, invalid, notFound } from '../errors';
import { emit } from '../events';
import { holds, purgeEnvelope, storeEnvelope, transientEnvelopes } from '../envelopes';
import { requireRole } from '../identity';
import { getMember, requirePatient, requireRecord } from '../lookups';
import type { RecordMeta } from '@ehr/ledger-model';
import { exists, history, key, KEY, putIndex, putJson, scan, txTime } from '../state';
import { requirePatientView, requireVisibleRecord } from '../need-to-know';
import * as v from '../validate';

export interface RecordView extends RecordMeta {
  recordId: string;
}

@Info({ title: 'Records', description: 'Metadata of encrypted documents stored in IPFS' })
export class RecordsContract extends Contract {
  constructor() {
    super('Records');
  }

  /**
   * Envelopes come only from the transient field "envelopes" so data keys never
   * enter the public transaction. The custodian's and the home hospital's are
   * mandatory; others only for hospitals that already hold a covering consent.
   */
  @Transaction()
  @Returns('string')
  public async CreateRecord(
    ctx: Context,
    recordId: string,
    patientId: string,
    cid: string,
    size: string,
    category: string,
    supersedes: string,
    actor: string,
  ): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const who = v.actor(actor);
    if (who.role !== 'clinician') throw forbidden('records are stored by a clinician');
    const record: RecordMeta = {
      patientId: v.patientId(patientId),
      custodian: mspId,
      cid: v.cid(cid),
      size: v.size(size),
      category: v.category(category),
      supersedes: v.optional(supersedes, 'supersedes', v.uuid),
      status: 'active',
      createdAt: txTime(ctx),
      createdBy: who.id,
    };
    const envelopes = transientEnvelopes(ctx);

    if (await exists(ctx, key(ctx, KEY.record, id))) throw conflict(`record ${id} already exists`);
    if ((await scan(ctx, KEY.recordCid, [record.cid])).length > 0) throw conflict('another record already names this cid');
    const patient = await requirePatient(ctx, record.patientId);
    for (const required of new Set([mspId, patient.homeHospital])) {
      if (!envelopes.has(required)) throw invalid(`an envelope for ${required} is required`);
    }
    for (const target of envelopes.keys()) {
      if (!(await getMember(ctx, target))) throw notFound(`hospital ${target} is not registered or has left the consortium`);
      if ((await accessBasis(ctx, id, record, patient, target, null)) === null) {
        throw forbidden(`${target} has no access to this record, so it may not hold an envelope`);
      }
    }
    if (record.supersedes !== null) {
      if (record.supersedes === id) throw invalid('a record cannot supersede itself');
      const previous = await requireRecord(ctx, record.supersedes);
      if (previous.patientId !== record.patientId) throw invalid('supersedes names another patient\'s record');
      if (previous.status === 'erased') throw gone(`record ${record.supersedes} has been erased`);
      if (previous.custodian !== mspId && patient.homeHospital !== mspId) {
        throw forbidden('only the custodian or the home hospital may supersede a record');
      }
    }

    await putJson(ctx, key(ctx, KEY.record, id), record);
    await putIndex(ctx, KEY.patientRecord, record.patientId, id);
    await putIndex(ctx, KEY.patientCustodian, record.patientId, mspId);
    await putIndex(ctx, KEY.recordCid, record.cid, id);
    const holders = [...envelopes.keys()].sort();
    for (const target of holders) await storeEnvelope(ctx, id, target, envelopes.get(target) as string, mspId);
    emit(ctx, 'RecordCreated', { recordId: id, patientId: record.patientId, custodian: mspId, homeHospital: patient.homeHospital, holders });
    return JSON.stringify({ recordId: id, ...record });
  }

  /**
   * What a store needs before its CreateRecord, in one evaluation: the patient's home
   * hospital (its envelope is mandatory) and the other members a consent in force would let
   * read the new record, so the store hands them their envelopes in the CreateRecord itself
   * rather than in a delivery transaction after it. Grantees are no secret among members:
   * every ConsentGranted event names its grantee.
   */
  @Transaction(false)
  @Returns('string')
  public async PlanRecord(ctx: Context, patientId: string, recordId: string, category: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const pid = v.patientId(patientId);
    const provisional: RecordMeta = {
      patientId: pid,
      custodian: mspId,
      cid: '',
      size: 0,
      category: v.category(category),
      supersedes: null,
      status: 'active',
      createdAt: txTime(ctx),
      createdBy: '',
    };
    const patient = await requirePatient(ctx, pid);
    const candidates = new Set((await consentsOf(ctx, pid)).map((row) => row.consent.grantee));
    const grantees: string[] = [];
    for (const target of [...candidates].sort()) {
      if (target === mspId || target === patient.homeHospital || !(await getMember(ctx, target))) continue;
      // CreateRecord's own test for an optional envelope.
      if ((await accessBasis(ctx, id, provisional, patient, target, null)) !== null) grantees.push(target);
    }
    return JSON.stringify({ patientId: pid, homeHospital: patient.homeHospital, registeredAt: patient.registeredAt, grantees });
  }

  @Transaction(false)
  @Returns('string')
  public async GetRecord(ctx: Context, recordId: string): Promise<string> {
    const id = v.uuid(recordId, 'recordId');
    const { record } = await requireVisibleRecord(ctx, id);
    return JSON.stringify({ recordId: id, ...record });
  }

  /**
   * The transaction that created the record, so an auditor can find its block
   * and check the CID against what IPFS holds. History order differs between
   * Fabric versions, so the earliest entry is picked by timestamp.
   */
  @Transaction(false)
  @Returns('string')
  public async LocateRecord(ctx: Context, recordId: string): Promise<string> {
    const id = v.uuid(recordId, 'recordId');
    await requireVisibleRecord(ctx, id);
    const entries = (await history<RecordMeta>(ctx, key(ctx, KEY.record, id))).filter((h) => h.value !== null);
    if (entries.length === 0) throw notFound(`record ${id} has no history`);
    const created = entries.reduce((a, b) => (b.timestamp < a.timestamp ? b : a));
    return JSON.stringify({ recordId: id, txId: created.txId, timestamp: created.timestamp });
  }

  /**
   * The patient's records the caller may see (need-to-know: all for the home
   * hospital; for others those they hold or a consent in force covers), each
   * with "access" = the caller's basis for any purpose (null when erased). With
   * a purpose: only the active records the caller may open for that purpose.
   * A caller with no basis for the patient gets NOT_FOUND, as for an unknown patient.
   */
  @Transaction(false)
  @Returns('string')
  public async ListRecords(ctx: Context, patientId: string, purpose: string): Promise<string> {
    const id = v.patientId(patientId);
    const p = v.optional(purpose, 'purpose', v.purpose);
    const view = await requirePatientView(ctx, id);
    const out: (RecordView & { access: string | null })[] = [];
    for (const [recordId, record] of [...view.records].sort(([a], [b]) => a.localeCompare(b))) {
      const basis = record.status === 'erased' ? null : await accessBasis(ctx, recordId, record, view.patient, view.mspId, p);
      if (p !== null && basis === null) continue;
      out.push({ recordId, ...record, access: basis });
    }
    return JSON.stringify(out);
  }

  /**
   * Crypto-shredding: the record stays (status erased) for the audit trail; the
   * caller's own envelope is purged here, other holders purge theirs on RecordErased.
   */
  @Transaction()
  @Returns('string')
  public async EraseRecord(ctx: Context, recordId: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const who = v.actor(actor);
    const record = await requireRecord(ctx, id);
    if (who.role !== 'patient' || who.id !== record.patientId) throw forbidden('only the patient may erase a record');
    const patient = await requirePatient(ctx, record.patientId);
    if (mspId !== record.custodian && mspId !== patient.homeHospital) {
      throw forbidden('erasure goes through the custodian or the patient\'s home hospital');
    }
    if (record.status === 'erased') throw gone(`record ${id} has already been erased`);
    const erased: RecordMeta = { ...record, status: 'erased' };
    await putJson(ctx, key(ctx, KEY.record, id), erased);
    if (await holds(ctx, id, mspId)) await purgeEnvelope(ctx, id, mspId);
    emit(ctx, 'RecordErased', { recordId: id, patientId: record.patientId, custodian: record.custodian, erasedBy: mspId, cid: record.cid });
    return JSON.stringify({ recordId: id, ...erased });
  }
}
