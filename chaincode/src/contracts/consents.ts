import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { checkScopeRecords, consentView, requirePatientAtHome, writeConsent } from '../consent-rules';
import { conflict, notFound } from '../errors';
import { emit } from '../events';
import { requireRole } from '../identity';
import { requireConsent } from '../lookups';
import type { Consent } from '@ehr/ledger-model';
import { key, KEY, putJson, txTime } from '../state';
import { patientStanding, unknownPatient } from '../need-to-know';
import * as v from '../validate';

@Info({ title: 'Consents', description: "Patients' grants of access to other hospitals, by scope, purpose and duration" })
export class ConsentsContract extends Contract {
  constructor() {
    super('Consents');
  }

  @Transaction()
  @Returns('string')
  public async GrantConsent(
    ctx: Context,
    consentId: string,
    patientId: string,
    grantee: string,
    scope: string,
    purposes: string,
    expiresAt: string,
    actor: string,
  ): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(consentId, 'consentId');
    const pid = v.patientId(patientId);
    const granteeMsp = v.mspId(grantee, 'grantee');
    const s = v.scope(scope);
    const p = v.purposes(purposes);
    const expires = v.optional(expiresAt, 'expiresAt', v.isoTime);
    const who = v.actor(actor);
    const patient = await requirePatientAtHome(ctx, mspId, who, pid);
    await checkScopeRecords(ctx, pid, s);
    const consent = await writeConsent(ctx, {
      consentId: id,
      patientId: pid,
      patient,
      grantee: granteeMsp,
      scope: s,
      purposes: p,
      expiresAt: expires,
    });
    emit(ctx, 'ConsentGranted', { consentId: id, patientId: pid, grantee: granteeMsp });
    return JSON.stringify(consentView(ctx, id, consent));
  }

  /** Takes effect for envelope reads at once; the grantee purges its envelopes on ConsentRevoked. */
  @Transaction()
  @Returns('string')
  public async RevokeConsent(ctx: Context, consentId: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(consentId, 'consentId');
    const who = v.actor(actor);
    const consent = await requireConsent(ctx, id);
    await requirePatientAtHome(ctx, mspId, who, consent.patientId);
    if (consent.status === 'revoked') throw conflict(`consent ${id} is already revoked`);
    const revoked: Consent = { ...consent, status: 'revoked', revokedAt: txTime(ctx) };
    await putJson(ctx, key(ctx, KEY.consent, id), revoked);
    emit(ctx, 'ConsentRevoked', { consentId: id, patientId: consent.patientId, grantee: consent.grantee });
    return JSON.stringify(consentView(ctx, id, revoked));
  }

  @Transaction(false)
  @Returns('string')
  public async GetConsent(ctx: Context, consentId: string): Promise<string> {
    const id = v.uuid(consentId, 'consentId');
    const consent = await requireConsent(ctx, id);
    // Need-to-know: the grantee (a party to it, even after it lapsed), the home
    // hospital and custodians of the patient's records.
    if (consent.grantee !== ctx.clientIdentity.getMSPID()) {
      const standing = await patientStanding(ctx, consent.patientId);
      if (!standing || !standing.consents.has(id)) throw notFound(`consent ${id} does not exist`);
    }
    return JSON.stringify(consentView(ctx, id, consent));
  }

  @Transaction(false)
  @Returns('string')
  public async ListConsents(ctx: Context, patientId: string): Promise<string> {
    const pid = v.patientId(patientId);
    const standing = await patientStanding(ctx, pid);
    if (!standing) throw unknownPatient(pid);
    return JSON.stringify([...standing.consents].map(([consentId, consent]) => consentView(ctx, consentId, consent)));
  }
}
