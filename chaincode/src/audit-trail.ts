// Turns key histories and access entries into one audit trail. Actions are
// derived from each stored version alone (not from its predecessor), because
// history order is the peer's, and tx timestamps are the clients'.
import type { Context } from 'fabric-contract-api';
import { consentsOf, scopeCovers } from './access-policy';
import { gatewayActor, UNRECORDED_ROLE, unrecordedActor } from '@ehr/ledger-model';
import type { AccessEntry, AccessRequest, AuditEntry, Consent, Holder, Patient, RecordMeta } from '@ehr/ledger-model';
import { fromBytes, history, key, KEY, scan } from './state';

export async function patientEntries(ctx: Context, patientId: string): Promise<AuditEntry[]> {
  return (await history<Patient>(ctx, key(ctx, KEY.patient, patientId))).flatMap((h) =>
    h.value
      ? [
          {
            txId: h.txId,
            timestamp: h.timestamp,
            action: 'PatientRegistered',
            subject: { type: 'patient' as const, id: patientId },
            hospital: h.value.homeHospital,
            // Patients registered before registeredBy was recorded: say so, never an empty actor.
            actor: h.value.registeredBy ?? unrecordedActor(h.value.homeHospital),
            details: {},
          },
        ]
      : [],
  );
}

export async function recordEntries(ctx: Context, recordId: string, hospitals: string[]): Promise<AuditEntry[]> {
  const subject = { type: 'record' as const, id: recordId };
  const out: AuditEntry[] = [];
  for (const h of await history<RecordMeta>(ctx, key(ctx, KEY.record, recordId))) {
    if (!h.value) continue;
    const created = h.value.status === 'active';
    out.push({
      txId: h.txId,
      timestamp: h.timestamp,
      action: created ? 'RecordCreated' : 'RecordErased',
      subject,
      hospital: created ? h.value.custodian : null,
      actor: created ? h.value.createdBy : h.value.patientId,
      details: created
        ? { patientId: h.value.patientId, cid: h.value.cid, size: h.value.size, category: h.value.category, supersedes: h.value.supersedes }
        : { patientId: h.value.patientId },
    });
  }
  // Holder markers, one key per hospital: deliveries and purges of envelopes, which a
  // hospital's gateway does on its own (no person acts), so the gateway is the actor.
  for (const mspId of hospitals) {
    for (const h of await history<Holder>(ctx, key(ctx, KEY.holder, recordId, mspId))) {
      const hospital = h.isDelete ? mspId : (h.value?.deliveredBy ?? null);
      out.push({
        txId: h.txId,
        timestamp: h.timestamp,
        action: h.isDelete ? 'EnvelopePurged' : 'EnvelopeDelivered',
        subject,
        hospital,
        actor: gatewayActor(hospital ?? mspId),
        details: { holder: mspId },
      });
    }
  }
  // The erasing hospital purged its own envelope in the same transaction.
  for (const e of out) {
    if (e.action !== 'RecordErased') continue;
    e.hospital = out.find((p) => p.action === 'EnvelopePurged' && p.txId === e.txId)?.hospital ?? null;
  }
  return out;
}

export async function accessEntries(ctx: Context, patientId: string, recordId?: string): Promise<AuditEntry[]> {
  const rows = await scan(ctx, KEY.access, recordId === undefined ? [patientId] : [patientId, recordId]);
  return rows.map((r) => {
    const [, rid, txId] = r.attributes;
    const a = fromBytes<AccessEntry>(r.value);
    return {
      txId,
      timestamp: a.at,
      action: 'RecordAccessed',
      subject: { type: 'record' as const, id: rid },
      hospital: a.accessor,
      actor: a.actor,
      // Entries written before the role was recorded say so rather than guess.
      details: { patientId, purpose: a.purpose, basis: a.basis, role: a.role ?? UNRECORDED_ROLE },
    };
  });
}

export async function consentEntries(
  ctx: Context,
  patientId: string,
  home: string,
  covering?: { recordId: string; record: RecordMeta },
): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (const { consentId, consent } of await consentsOf(ctx, patientId)) {
    if (covering && !scopeCovers(consent.scope, covering.recordId, covering.record)) continue;
    for (const h of await history<Consent>(ctx, key(ctx, KEY.consent, consentId))) {
      if (!h.value) continue;
      const c = h.value;
      // A break-glass grant is made by the declaring clinician at the grantee; the patient ends it at home.
      const declared = c.status === 'active' ? c.emergency : undefined;
      out.push({
        txId: h.txId,
        timestamp: h.timestamp,
        action: c.status === 'active' ? 'ConsentGranted' : 'ConsentRevoked',
        subject: { type: 'consent', id: consentId },
        hospital: declared ? c.grantee : home,
        actor: declared ? declared.declaredBy : patientId,
        details: {
          grantee: c.grantee,
          scope: c.scope,
          purposes: c.purposes,
          expiresAt: c.expiresAt,
          ...(c.emergency ? { emergencyReason: c.emergency.reasonCode } : {}),
        },
      });
    }
  }
  return out;
}

export async function requestEntries(ctx: Context, patientId: string, home: string): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (const row of await scan(ctx, KEY.patientRequest, [patientId])) {
    const requestId = row.attributes[1];
    for (const h of await history<AccessRequest>(ctx, key(ctx, KEY.request, requestId))) {
      if (!h.value) continue;
      const r = h.value;
      const pending = r.status === 'pending';
      out.push({
        txId: h.txId,
        timestamp: h.timestamp,
        action: pending ? 'AccessRequested' : 'RequestDecided',
        subject: { type: 'request', id: requestId },
        hospital: pending ? r.requester : home,
        actor: pending ? r.requestedBy : patientId,
        details: pending
          ? { requester: r.requester, purpose: r.purpose, scope: r.scope, reason: r.reason }
          : { requester: r.requester, status: r.status, consentId: r.consentId },
      });
    }
  }
  return out;
}

export function chronological(entries: AuditEntry[]): AuditEntry[] {
  return [...entries].sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.txId.localeCompare(b.txId));
}
