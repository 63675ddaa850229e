import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { accessBasis, requireAccess } from '../access-policy';
import { conflict, forbidden, gone, notFound } from '../errors';
import { emit } from '../events';
import { holds, purgeEnvelope, storeEnvelope, transientEnvelope } from '../envelopes';
import { requireRole } from '../identity';
import { getHospital, requirePatient, requireRecord } from '../lookups';
import type { AccessEntry, Envelope, Holder } from '@ehr/ledger-model';
import { fromBytes, implicitCollection, key, KEY, putJson, scan, txTime } from '../state';
import { requireVisibleRecord } from '../need-to-know';
import * as v from '../validate';

@Info({ title: 'Access', description: 'Access checks, the disclosure log, and key envelopes in implicit private collections' })
export class AccessContract extends Contract {
  constructor() {
    super('Access');
  }

  /**
   * Audit before disclosure: the gateway submits this and waits for commit before
   * returning any byte. The entry is keyed by txId, so each disclosure is one entry.
   */
  @Transaction()
  @Returns('string')
  public async LogAccess(ctx: Context, recordId: string, purpose: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const p = v.purpose(purpose);
    const who = v.actor(actor);
    if (who.role !== 'clinician' && who.role !== 'patient') throw forbidden('content is read by clinicians and patients');
    const { record, basis } = await requireAccess(ctx, id, mspId, p);
    if (who.role === 'patient' && who.id !== record.patientId) throw forbidden("a patient reads only their own records");
    const txId = ctx.stub.getTxID();
    // The role the gateway vouches for (from the verified token), so a clinician whose pseudonym
    // equals a patientId cannot pass for the patient in the audit trail (THREATS #7).
    const entry: AccessEntry = { accessor: mspId, actor: who.id, role: who.role, purpose: p, at: txTime(ctx), basis };
    await putJson(ctx, key(ctx, KEY.access, record.patientId, id, txId), entry);
    emit(ctx, 'RecordAccessed', { recordId: id, patientId: record.patientId, accessor: mspId, purpose: p, basis });
    return JSON.stringify({ recordId: id, patientId: record.patientId, txId, ...entry });
  }

  /** A dry run of the access rule for the caller's MSP; NOT_FOUND and GONE are still errors. */
  @Transaction(false)
  @Returns('string')
  public async CheckAccess(ctx: Context, recordId: string, purpose: string): Promise<string> {
    const id = v.uuid(recordId, 'recordId');
    const p = v.optional(purpose, 'purpose', v.purpose);
    const mspId = ctx.clientIdentity.getMSPID();
    const record = await requireRecord(ctx, id);
    if (record.status === 'erased') throw gone(`record ${id} has been erased`);
    const patient = await requirePatient(ctx, record.patientId);
    const basis = await accessBasis(ctx, id, record, patient, mspId, p);
    return JSON.stringify({
      recordId: id,
      mspId,
      purpose: p,
      allowed: basis !== null,
      basis,
      holdsEnvelope: await holds(ctx, id, mspId),
    });
  }

  /**
   * Evaluate on the caller's own peer: only it is a member of its implicit collection.
   * The access rule is applied again, so a revoked consent stops reads at once.
   */
  @Transaction(false)
  @Returns('string')
  public async GetEnvelope(ctx: Context, recordId: string, purpose: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const p = v.purpose(purpose);
    const { basis } = await requireAccess(ctx, id, mspId, p);
    const bytes = await ctx.stub.getPrivateData(implicitCollection(mspId), key(ctx, KEY.envelope, id));
    if (!bytes || bytes.length === 0) throw notFound(`no envelope for ${mspId} yet: it has not been delivered`);
    return JSON.stringify({ recordId: id, mspId, basis, ...fromBytes<Envelope>(bytes) });
  }

  /**
   * The custodian (or home hospital) wraps the data key to a grantee's registered key
   * and hands it over in transient "envelope"; needs the grantee's endorsement.
   */
  @Transaction()
  @Returns('string')
  public async DeliverEnvelope(ctx: Context, recordId: string, granteeMsp: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const grantee = v.mspId(granteeMsp, 'granteeMsp');
    const wrapped = transientEnvelope(ctx);
    const record = await requireRecord(ctx, id);
    if (record.status === 'erased') throw gone(`record ${id} has been erased`);
    const patient = await requirePatient(ctx, record.patientId);
    if (mspId !== record.custodian && mspId !== patient.homeHospital) {
      throw forbidden('envelopes are delivered by the custodian or the home hospital');
    }
    if (grantee === mspId) throw forbidden('a hospital does not deliver to itself');
    if (!(await getHospital(ctx, grantee))) throw notFound(`hospital ${grantee} is not registered`);
    if ((await accessBasis(ctx, id, record, patient, grantee, null)) === null) {
      throw forbidden(`${grantee} has no access to record ${id}`);
    }
    if (await holds(ctx, id, grantee)) throw conflict(`${grantee} already holds an envelope for record ${id}`);
    await storeEnvelope(ctx, id, grantee, wrapped, mspId);
    emit(ctx, 'EnvelopeDelivered', { recordId: id, patientId: record.patientId, grantee, deliveredBy: mspId });
    return JSON.stringify({ recordId: id, grantee, deliveredBy: mspId, since: txTime(ctx) });
  }

  /**
   * A hospital drops its own envelope once its access is gone (revoked or expired
   * consent, erased record). While access holds this is refused, so the custodian
   * and home hospital cannot lose the only copies of a live record's key.
   */
  @Transaction()
  @Returns('string')
  public async PurgeEnvelope(ctx: Context, recordId: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway', 'admin');
    const id = v.uuid(recordId, 'recordId');
    const record = await requireRecord(ctx, id);
    if (!(await holds(ctx, id, mspId))) throw notFound(`${mspId} holds no envelope for record ${id}`);
    if (record.status !== 'erased') {
      const patient = await requirePatient(ctx, record.patientId);
      if ((await accessBasis(ctx, id, record, patient, mspId, null)) !== null) {
        throw conflict(`${mspId} still has access to record ${id}`);
      }
    }
    await purgeEnvelope(ctx, id, mspId);
    emit(ctx, 'EnvelopePurged', { recordId: id, patientId: record.patientId, mspId });
    return JSON.stringify({ recordId: id, mspId, purged: true });
  }

  /**
   * The patient's records whose envelope the calling hospital holds now: what it
   * must purge when its consent ends, after which it may no longer list them.
   */
  @Transaction(false)
  @Returns('string')
  public async ListHeld(ctx: Context, patientId: string): Promise<string> {
    const pid = v.patientId(patientId);
    const mspId = ctx.clientIdentity.getMSPID();
    const held: { recordId: string }[] = [];
    for (const row of await scan(ctx, KEY.patientRecord, [pid])) {
      const recordId = row.attributes[1];
      if (await holds(ctx, recordId, mspId)) held.push({ recordId });
    }
    return JSON.stringify(held);
  }

  /** Who holds a wrapped key for the record now (public markers, not the keys). */
  @Transaction(false)
  @Returns('string')
  public async ListHolders(ctx: Context, recordId: string): Promise<string> {
    const id = v.uuid(recordId, 'recordId');
    await requireVisibleRecord(ctx, id);
    const rows = await scan(ctx, KEY.holder, [id]);
    return JSON.stringify(rows.map((r) => ({ mspId: r.attributes[1], ...fromBytes<Holder>(r.value) })));
  }
}
