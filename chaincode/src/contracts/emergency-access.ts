import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { consentsOf } from '../access-policy';
import { approveSettings, BREAK_GLASS_KEY, currentSettings, parseSettings, pendingApprovals, settingsDigest } from '../break-glass-settings';
import { consentView, writeConsent } from '../consent-rules';
import { conflict, forbidden, invalid } from '../errors';
import { emit } from '../events';
import { requireRole } from '../identity';
import { getMember, requirePatient } from '../lookups';
import { memberIds } from './membership';
import {
  breakGlassBasis,
  CATEGORIES,
  consentInForce,
  EMERGENCY_REASONS,
  majority,
  type AccessEntry,
  type BreakGlassRole,
  type Category,
  type Consent,
  type EmergencyReason,
  type Patient,
  type RecordMeta,
} from '@ehr/ledger-model';
import { fromBytes, getJson, key, KEY, putIndex, scan, txTime } from '../state';
import * as v from '../validate';

const DIGEST = /^[0-9a-f]{64}$/;

/** One disclosure under an emergency grant, as the review list shows it. */
interface EmergencyAccessRow extends AccessEntry {
  recordId: string;
  txId: string;
  custodian: string | null;
}

@Info({ title: 'EmergencyAccess', description: 'Break-glass: emergency grants, their review by auditors, and the consortium-wide setting' })
export class EmergencyAccessContract extends Contract {
  constructor() {
    super('EmergencyAccess');
  }

  /**
   * A clinician of the calling hospital declares an emergency for a patient of another
   * hospital: a consent to the caller, purpose emergency, scope the setting's categories
   * (or fewer), expiring durationMinutes after the transaction time. ConsentGranted is
   * emitted, so custodians deliver envelopes and the grantee schedules the purge at expiry
   * exactly as for a consent; the patient revokes it with Consents:RevokeConsent.
   */
  @Transaction()
  @Returns('string')
  public async DeclareEmergency(
    ctx: Context,
    consentId: string,
    patientId: string,
    reasonCode: string,
    justificationDigest: string,
    categories: string,
    durationMinutes: string,
    actor: string,
  ): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway');
    const id = v.uuid(consentId, 'consentId');
    const pid = v.patientId(patientId);
    const reason = v.oneOf<EmergencyReason>('reasonCode', reasonCode, EMERGENCY_REASONS);
    const digest = v.matching('justificationDigest', justificationDigest, DIGEST, '64 lowercase hex digits (SHA-256)');
    const wanted = v.optional(categories, 'categories', (x, n) =>
      v.uniqueList(n, v.json(n, x), CATEGORIES.length, (c, cn) => v.oneOf<Category>(cn, c, CATEGORIES)),
    );
    const duration = v.optional(durationMinutes, 'durationMinutes', (x, n) => {
      if (typeof x !== 'string' || !/^[1-9][0-9]{0,5}$/.test(x)) throw invalid(`${n} must be a whole number of minutes`);
      return Number(x);
    });
    const who = v.actor(actor);

    const { settings } = await currentSettings(ctx);
    if (!settings.enabled) throw forbidden('break-glass access is disabled in this consortium');
    if (!(settings.allowedRoles as string[]).includes(who.role)) {
      throw forbidden(`break-glass is declared by ${settings.allowedRoles.join(' or ') || 'no role'} only`);
    }
    const minutes = duration ?? settings.defaultDurationMinutes;
    if (minutes > settings.maxDurationMinutes) throw invalid(`durationMinutes must not exceed ${settings.maxDurationMinutes}`);
    const scopeCategories = wanted ?? settings.categories;
    const outside = scopeCategories.filter((c) => !settings.categories.includes(c));
    if (outside.length > 0) throw invalid(`categories not open to break-glass: ${outside.join(', ')}`);

    const patient = await requirePatient(ctx, pid);
    if (patient.homeHospital === mspId) throw conflict('the home hospital has access to its own patients; no break-glass needed');
    const now = txTime(ctx);
    const open = (await consentsOf(ctx, pid, mspId)).find((r) => r.consent.emergency && consentInForce(r.consent, now));
    if (open) throw conflict(`emergency grant ${open.consentId} of ${mspId} for this patient is in force until ${open.consent.expiresAt}`);

    const consent = await writeConsent(ctx, {
      consentId: id,
      patientId: pid,
      patient,
      grantee: mspId,
      scope: { type: 'categories', categories: [...scopeCategories].sort() }, // sorted, as toBytes stores it
      purposes: ['emergency'],
      expiresAt: new Date(Date.parse(now) + minutes * 60_000).toISOString(),
      emergency: { reasonCode: reason, declaredBy: who.id, declaredRole: who.role as BreakGlassRole, justificationDigest: digest },
    });
    await putIndex(ctx, BREAK_GLASS_KEY.grant, id);
    emit(ctx, 'ConsentGranted', { consentId: id, patientId: pid, grantee: mspId });
    return JSON.stringify(consentView(ctx, id, consent));
  }

  /**
   * The auditors' review list: every emergency grant the calling hospital has a stake in,
   * with the accesses made under it. The declaring hospital and the patient's home see every
   * access; a custodian sees a grant only when records of its own were read under it, and
   * only those reads. Others see nothing (need-to-know).
   */
  @Transaction(false)
  @Returns('string')
  public async ListEmergencyGrants(ctx: Context): Promise<string> {
    const mspId = ctx.clientIdentity.getMSPID();
    const now = txTime(ctx);
    const out: object[] = [];
    for (const row of await scan(ctx, BREAK_GLASS_KEY.grant, [])) {
      const consentId = row.attributes[0];
      const consent = await getJson<Consent>(ctx, key(ctx, KEY.consent, consentId));
      if (!consent) continue;
      const patient = await getJson<Patient>(ctx, key(ctx, KEY.patient, consent.patientId));
      if (!patient) continue;
      const party = consent.grantee === mspId || patient.homeHospital === mspId;
      const accesses = await this.#accessesUnder(ctx, consentId, consent.patientId);
      const shown = party ? accesses : accesses.filter((a) => a.custodian === mspId);
      if (!party && shown.length === 0) continue;
      out.push({ consentId, ...consent, homeHospital: patient.homeHospital, inForce: consentInForce(consent, now), accesses: shown });
    }
    return JSON.stringify(out);
  }

  async #accessesUnder(ctx: Context, consentId: string, patientId: string): Promise<EmergencyAccessRow[]> {
    const basis = breakGlassBasis(consentId);
    const custodians = new Map<string, string | null>();
    const rows: EmergencyAccessRow[] = [];
    for (const row of await scan(ctx, KEY.access, [patientId])) {
      const entry = fromBytes<AccessEntry>(row.value);
      if (entry.basis !== basis) continue;
      const [, recordId, txId] = row.attributes;
      if (!custodians.has(recordId)) {
        custodians.set(recordId, (await getJson<RecordMeta>(ctx, key(ctx, KEY.record, recordId)))?.custodian ?? null);
      }
      rows.push({ recordId, txId, ...entry, custodian: custodians.get(recordId) ?? null });
    }
    return rows.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  }

  /** The setting in force (defaults while none was approved) and this round's pending approvals. */
  @Transaction(false)
  @Returns('string')
  public async GetSettings(ctx: Context): Promise<string> {
    const current = await currentSettings(ctx);
    const members = (await memberIds(ctx)).length;
    const pending = [...(await pendingApprovals(ctx, current.version))].map(([digest, p]) => ({ digest, ...p }));
    return JSON.stringify({ ...current, digest: settingsDigest(current.settings), approvalsNeeded: majority(members), pending });
  }

  /**
   * A hospital's admin approves a complete setting. It takes effect once a MAJORITY of the
   * registered hospitals approved the same value in this round; one hospital counts once.
   */
  @Transaction()
  @Returns('string')
  public async ApproveSettings(ctx: Context, settings: string, actor: string): Promise<string> {
    const { mspId } = requireRole(ctx, 'gateway', 'admin');
    const proposed = parseSettings(settings);
    const who = v.actor(actor);
    if (who.role !== 'admin') throw forbidden("break-glass settings are approved by a hospital's admin");
    if (!(await getMember(ctx, mspId))) throw forbidden(`${mspId} is not a registered hospital`);
    const current = await currentSettings(ctx);
    const digest = settingsDigest(proposed);
    if (digest === settingsDigest(current.settings)) throw conflict('this setting is already in force');
    if ((await pendingApprovals(ctx, current.version)).get(digest)?.hospitals.includes(mspId)) {
      throw conflict(`${mspId} has already approved this setting`);
    }
    const members = (await memberIds(ctx)).length;
    const outcome = await approveSettings(ctx, mspId, who.id, proposed, members);
    emit(ctx, 'BreakGlassSettingsApproved', { mspId, status: outcome.applied ? 'applied' : 'pending' });
    return JSON.stringify({ ...outcome, settings: proposed });
  }
}
