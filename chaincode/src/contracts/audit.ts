import { Context, Contract, Info, Returns, Transaction } from 'fabric-contract-api';
import { accessEntries, chronological, consentEntries, patientEntries, recordEntries, requestEntries } from '../audit-trail';
import { forbidden } from '../errors';
import { caller } from '../identity';
import type { Actor, AuditEntry, Patient } from '@ehr/ledger-model';
import { KEY, scan } from '../state';
import { requirePatientView, requireVisibleRecord, visibleEntries, visibleRequests } from '../need-to-know';
import * as v from '../validate';

/** Auditor identities, gateways acting for an auditor, or the patient through the home hospital. */
function requireAuditReader(ctx: Context, who: Actor, patientId: string, patient: Patient): void {
  const c = caller(ctx);
  if (c.role === 'auditor') return;
  if (c.role === 'gateway' && who.role === 'auditor') return;
  if (c.role === 'gateway' && who.role === 'patient' && who.id === patientId && patient.homeHospital === c.mspId) return;
  throw forbidden('audit trails are for auditors and for the patient through the home hospital');
}

async function hospitalIds(ctx: Context): Promise<string[]> {
  return (await scan(ctx, KEY.hospital, [])).map((r) => r.attributes[0]);
}

/** Every event on the record the caller may see, oldest first (need-to-know before the reader check). */
export async function recordTrail(ctx: Context, recordId: string, actor: string): Promise<{ recordId: string; patientId: string; entries: AuditEntry[] }> {
  const id = v.uuid(recordId, 'recordId');
  const who = v.actor(actor);
  // Need-to-know first: without a basis the record does not exist for the caller.
  const { record } = await requireVisibleRecord(ctx, id);
  const view = await requirePatientView(ctx, record.patientId);
  const patient = view.patient;
  requireAuditReader(ctx, who, record.patientId, patient);
  const entries = [
    ...(await recordEntries(ctx, id, await hospitalIds(ctx))),
    ...(await consentEntries(ctx, record.patientId, patient.homeHospital, { recordId: id, record })),
    ...(await accessEntries(ctx, record.patientId, id)),
  ];
  const visible = visibleEntries(entries, view, new Set());
  return { recordId: id, patientId: record.patientId, entries: chronological(visible) };
}

/** Every event for the patient the caller may see, oldest first. */
export async function patientTrail(ctx: Context, patientId: string, actor: string): Promise<{ patientId: string; entries: AuditEntry[] }> {
  const pid = v.patientId(patientId);
  const who = v.actor(actor);
  const view = await requirePatientView(ctx, pid);
  const patient = view.patient;
  requireAuditReader(ctx, who, pid, patient);
  const hospitals = await hospitalIds(ctx);
  const entries = [...(await patientEntries(ctx, pid))];
  for (const row of await scan(ctx, KEY.patientRecord, [pid])) {
    entries.push(...(await recordEntries(ctx, row.attributes[1], hospitals)));
  }
  entries.push(...(await consentEntries(ctx, pid, patient.homeHospital)));
  entries.push(...(await requestEntries(ctx, pid, patient.homeHospital)));
  entries.push(...(await accessEntries(ctx, pid)));
  const ownRequests = new Set((await visibleRequests(ctx, pid))?.map((r) => r.requestId) ?? []);
  return { patientId: pid, entries: chronological(visibleEntries(entries, view, ownRequests)) };
}

@Info({ title: 'Audit', description: 'Who did what to which record, when, under which consent' })
export class AuditContract extends Contract {
  constructor() {
    super('Audit');
  }

  @Transaction(false)
  @Returns('string')
  public async RecordHistory(ctx: Context, recordId: string, actor: string): Promise<string> {
    return JSON.stringify(await recordTrail(ctx, recordId, actor));
  }

  @Transaction(false)
  @Returns('string')
  public async PatientHistory(ctx: Context, patientId: string, actor: string): Promise<string> {
    return JSON.stringify(await patientTrail(ctx, patientId, actor));
  }
}
