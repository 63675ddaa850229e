import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { checkScopeRecords, requirePatientAtHome, writeConsent } from '../consent-rules';
import { conflict, forbidden, invalid, notFound } from '../errors';
import { emit } from '../events';
import { requireRole } from '../identity';
import { getMember, requirePatient, requireRequest } from '../lookups';
import type { AccessRequest } from '@ehr/ledger-model';
import { exists, key, KEY, putIndex, putJson, txTime } from '../state';
import { requestVisible, unknownPatient, visibleRequests } from '../need-to-know';
import * as v from '../validate';

@Info({ title: 'AccessRequests', description: "Clinicians' requests for another hospital's patient's records" })
export class AccessRequestsContract extends Contract {
  constructor() {
    super('AccessRequests');
  }

  /** reason is a code from REASONS (stored in clear on the ledger): never free text, which could carry clinical detail. */
  @Transaction()
  @Returns('string')
  public async CreateRequest(
    ctx: Context,
    requestId: string,
    patientId: string,
    purpose: string,
    scope: string,
    reason: string,
    actor: string,
  ): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(requestId, 'requestId');
    const pid = v.patientId(patientId);
    const p = v.purpose(purpose);
    const s = v.scope(scope);
    const r = v.reason(reason);
    const who = v.actor(actor);
    if (who.role !== 'clinician') throw forbidden('access requests are made by clinicians');
    const patient = await requirePatient(ctx, pid);
    if (patient.homeHospital === mspId) throw invalid('the home hospital needs no access request');
    if (!(await getMember(ctx, mspId))) throw forbidden(`hospital ${mspId} must be a registered member to request access`);
    const k = key(ctx, KEY.request, id);
    if (await exists(ctx, k)) throw conflict(`access request ${id} already exists`);
    await checkScopeRecords(ctx, pid, s);
    const request: AccessRequest = {
      patientId: pid,
      requester: mspId,
      purpose: p,
      scope: s,
      reason: r,
      status: 'pending',
      requestedAt: txTime(ctx),
      requestedBy: who.id,
      decidedAt: null,
      consentId: null,
    };
    await putJson(ctx, k, request);
    await putIndex(ctx, KEY.patientRequest, pid, id);
    emit(ctx, 'AccessRequested', { requestId: id, patientId: pid, requester: mspId, homeHospital: patient.homeHospital });
    return JSON.stringify({ requestId: id, ...request });
  }

  /** Approval creates the consent too; the single RequestDecided event names it (one event per transaction). */
  @Transaction()
  @Returns('string')
  public async ApproveRequest(
    ctx: Context,
    requestId: string,
    consentId: string,
    expiresAt: string,
    actor: string,
  ): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(requestId, 'requestId');
    const cid = v.uuid(consentId, 'consentId');
    const expires = v.optional(expiresAt, 'expiresAt', v.isoTime);
    const who = v.actor(actor);
    const request = await requireRequest(ctx, id);
    const patient = await requirePatientAtHome(ctx, mspId, who, request.patientId);
    if (request.status !== 'pending') throw conflict(`access request ${id} is already ${request.status}`);
    await writeConsent(ctx, {
      consentId: cid,
      patientId: request.patientId,
      patient,
      grantee: request.requester,
      scope: request.scope,
      purposes: [request.purpose],
      expiresAt: expires,
    });
    const decided: AccessRequest = { ...request, status: 'approved', decidedAt: txTime(ctx), consentId: cid };
    await putJson(ctx, key(ctx, KEY.request, id), decided);
    emit(ctx, 'RequestDecided', {
      requestId: id,
      patientId: request.patientId,
      requester: request.requester,
      status: 'approved',
      consentId: cid,
    });
    return JSON.stringify({ requestId: id, ...decided });
  }

  @Transaction()
  @Returns('string')
  public async RejectRequest(ctx: Context, requestId: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(requestId, 'requestId');
    const who = v.actor(actor);
    const request = await requireRequest(ctx, id);
    await requirePatientAtHome(ctx, mspId, who, request.patientId);
    if (request.status !== 'pending') throw conflict(`access request ${id} is already ${request.status}`);
    const decided: AccessRequest = { ...request, status: 'rejected', decidedAt: txTime(ctx) };
    await putJson(ctx, key(ctx, KEY.request, id), decided);
    emit(ctx, 'RequestDecided', {
      requestId: id,
      patientId: request.patientId,
      requester: request.requester,
      status: 'rejected',
      consentId: null,
    });
    return JSON.stringify({ requestId: id, ...decided });
  }

  @Transaction(false)
  @Returns('string')
  public async GetRequest(ctx: Context, requestId: string): Promise<string> {
    const id = v.uuid(requestId, 'requestId');
    const request = await requireRequest(ctx, id);
    // Need-to-know: the patient's home hospital and the requesting hospital only.
    const patient = await requirePatient(ctx, request.patientId);
    if (!requestVisible(request, ctx.clientIdentity.getMSPID(), patient)) throw notFound(`access request ${id} does not exist`);
    return JSON.stringify({ requestId: id, ...request });
  }

  @Transaction(false)
  @Returns('string')
  public async ListRequests(ctx: Context, patientId: string): Promise<string> {
    const pid = v.patientId(patientId);
    // The home hospital sees every request; a requesting hospital its own; others nothing.
    const out = await visibleRequests(ctx, pid);
    if (out === null) throw unknownPatient(pid);
    return JSON.stringify(out);
  }
}
