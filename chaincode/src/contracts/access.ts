import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { accessBasis, consentsOf, requireAccess, type ConsentRow } from '../access-policy';
import { conflict, forbidden, gone, invalid as invalidArg, notFound } from '../errors';
import { emit } from '../events';
import { holds, MAX_BATCH, purgeEnvelope, storeEnvelope, transientBatch, transientEnvelope } from '../envelopes';
import { requireRole } from '../identity';
import { getMember, requirePatient, requireRecord } from '../lookups';
import { accessBasis as judgeAccess, type AccessEntry, type Envelope, type Holder, type Patient, type RecordMeta } from '@ehr/ledger-model';
import { fromBytes, getJson, implicitCollection, key, KEY, putJson, scan, txTime } from '../state';
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
    const { basis } = await requireAccess(ctx, id, mspId, v.purpose(purpose));
    const envelope = await ownEnvelope(ctx, mspId, id);
    if (!envelope) throw notFound(`no envelope for ${mspId} yet: it has not been delivered`);
    return JSON.stringify({ recordId: id, mspId, basis, ...envelope });
  }

  /**
   * Everything a content read needs before it logs the access, in one evaluation: the
   * record, the basis the rule finds for the purpose, and the caller's envelope (`null`
   * while it has not been delivered: the read answers 503 and logs nothing). Refusals are
   * GetEnvelope's: NOT_FOUND without any basis, GONE when erased, FORBIDDEN for the purpose.
   */
  @Transaction(false)
  @Returns('string')
  public async OpenRecord(ctx: Context, recordId: string, purpose: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(recordId, 'recordId');
    const { record, basis } = await requireAccess(ctx, id, mspId, v.purpose(purpose));
    const envelope = await ownEnvelope(ctx, mspId, id);
    return JSON.stringify({ recordId: id, mspId, basis, record: { recordId: id, ...record }, envelope: envelope?.envelope ?? null });
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
    if (!(await getMember(ctx, grantee))) throw notFound(`hospital ${grantee} is not registered or has left the consortium`);
    if ((await accessBasis(ctx, id, record, patient, grantee, null)) === null) {
      throw forbidden(`${grantee} has no access to record ${id}`);
    }
    if (await holds(ctx, id, grantee)) throw conflict(`${grantee} already holds an envelope for record ${id}`);
    await storeEnvelope(ctx, id, grantee, wrapped, mspId);
    emit(ctx, 'EnvelopeDelivered', { recordId: id, patientId: record.patientId, grantee, deliveredBy: mspId });
    return JSON.stringify({ recordId: id, grantee, deliveredBy: mspId, since: txTime(ctx) });
  }

  /**
   * Many envelopes for one grantee in one transaction (the custody outbox's batch):
   * transient "envelopes" = JSON object recordId → base64 wrapped key. Each record is
   * judged by DeliverEnvelope's rule; one that fails it does not fail the batch but is
   * reported: `delivered`, `skipped` (the grantee holds one already, e.g. from the other
   * holder), `refused` (recordId → code: NOT_FOUND, GONE, FORBIDDEN). The batch itself is
   * refused only for a bad grantee or bad transient data.
   */
  @Transaction()
  @Returns('string')
  public async DeliverEnvelopes(ctx: Context, granteeMsp: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const grantee = v.mspId(granteeMsp, 'granteeMsp');
    const batch = transientBatch(ctx);
    if (grantee === mspId) throw forbidden('a hospital does not deliver to itself');
    if (!(await getMember(ctx, grantee))) throw notFound(`hospital ${grantee} is not registered or has left the consortium`);
    const delivered: string[] = [];
    const skipped: string[] = [];
    const refused: Record<string, string> = {};
    const patients = new Map<string, Patient | null>();
    // The grantee's consents per patient, read once for the whole batch (the same rule as accessBasis).
    const consents = new Map<string, ConsentRow[]>();
    const now = txTime(ctx);
    for (const [id, wrapped] of [...batch].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const record = await getJson<RecordMeta>(ctx, key(ctx, KEY.record, id));
      if (!record) {
        refused[id] = 'NOT_FOUND';
        continue;
      }
      if (record.status === 'erased') {
        refused[id] = 'GONE';
        continue;
      }
      if (!patients.has(record.patientId)) patients.set(record.patientId, (await getJson<Patient>(ctx, key(ctx, KEY.patient, record.patientId))) ?? null);
      const patient = patients.get(record.patientId) ?? null;
      if (!patient || (mspId !== record.custodian && mspId !== patient.homeHospital)) {
        refused[id] = 'FORBIDDEN';
        continue;
      }
      if (!consents.has(record.patientId)) consents.set(record.patientId, await consentsOf(ctx, record.patientId, grantee));
      const granteeBasis = judgeAccess({
        mspId: grantee,
        recordId: id,
        record,
        homeHospital: patient.homeHospital,
        purpose: null,
        at: now,
        consents: consents.get(record.patientId) ?? [],
      });
      if (granteeBasis === null) {
        refused[id] = 'FORBIDDEN';
        continue;
      }
      if (await holds(ctx, id, grantee)) {
        skipped.push(id);
        continue;
      }
      await storeEnvelope(ctx, id, grantee, wrapped, mspId);
      delivered.push(id);
    }
    if (delivered.length > 0) emit(ctx, 'EnvelopesDelivered', { grantee, deliveredBy: mspId, recordIds: delivered });
    return JSON.stringify({ grantee, deliveredBy: mspId, delivered, skipped, refused, since: txTime(ctx) });
  }

  /**
   * The caller's own envelopes for many records at once (evaluate on its own peer), for
   * the custody outbox to re-wrap: JSON array of recordIds (at most the batch size); the
   * answer maps each record the caller may open and holds an envelope for to it. Records
   * it may not open or holds none for are left out, and so are those `exceptHeldBy` (a
   * grantee, or '') holds already: nothing left means nothing to deliver.
   */
  @Transaction(false)
  @Returns('string')
  public async GetEnvelopes(ctx: Context, recordIds: string, exceptHeldBy: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const except = v.optional(exceptHeldBy, 'exceptHeldBy', v.mspId);
    // A batch of UUIDs is longer than v.json's bound for ordinary arguments.
    if (typeof recordIds !== 'string' || recordIds.length > MAX_BATCH * 40 + 2) throw invalidArg(`recordIds: at most ${MAX_BATCH}`);
    let ids: unknown;
    try {
      ids = JSON.parse(recordIds);
    } catch {
      throw invalidArg('recordIds must be JSON');
    }
    if (!Array.isArray(ids) || ids.length > MAX_BATCH) throw invalidArg(`recordIds must be a JSON array of at most ${MAX_BATCH}`);
    const out: Record<string, string> = {};
    const patients = new Map<string, Patient | undefined>();
    for (const raw of ids) {
      const id = v.uuid(raw, 'recordId');
      const record = await getJson<RecordMeta>(ctx, key(ctx, KEY.record, id));
      if (!record || record.status === 'erased') continue;
      if (!patients.has(record.patientId)) patients.set(record.patientId, await getJson<Patient>(ctx, key(ctx, KEY.patient, record.patientId)));
      const patient = patients.get(record.patientId);
      if (!patient || (await accessBasis(ctx, id, record, patient, mspId, null)) === null) continue;
      if (except !== null && (await holds(ctx, id, except))) continue;
      const bytes = await ctx.stub.getPrivateData(implicitCollection(mspId), key(ctx, KEY.envelope, id));
      if (bytes && bytes.length > 0) out[id] = fromBytes<Envelope>(bytes).envelope;
    }
    return JSON.stringify(out);
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

/** The caller's envelope for a record, from its own implicit collection (only its own peer holds it). */
async function ownEnvelope(ctx: Context, mspId: string, recordId: string): Promise<Envelope | undefined> {
  const bytes = await ctx.stub.getPrivateData(implicitCollection(mspId), key(ctx, KEY.envelope, recordId));
  return bytes && bytes.length > 0 ? fromBytes<Envelope>(bytes) : undefined;
}
