// Typed reads of the main entities, failing with NOT_FOUND when absent.
import type { Context } from 'fabric-contract-api';
import { notFound } from './errors';
import type { AccessRequest, Consent, Hospital, Patient, RecordMeta } from '@ehr/ledger-model';
import { exists, getJson, key, KEY } from './state';

async function required<T>(ctx: Context, type: string, id: string, what: string): Promise<T> {
  const value = await getJson<T>(ctx, key(ctx, type, id));
  if (value === undefined) throw notFound(`${what} ${id} does not exist`);
  return value;
}

export const getHospital = (ctx: Context, mspId: string) => getJson<Hospital>(ctx, key(ctx, KEY.hospital, mspId));
/** Whether the consortium approved the hospital's departure (contracts/membership.ts). */
export const isDeparted = (ctx: Context, mspId: string) => exists(ctx, key(ctx, KEY.departed, mspId));
/** A registered hospital that has not left: the only kind a consent, request or envelope may name. */
export async function getMember(ctx: Context, mspId: string): Promise<Hospital | undefined> {
  const hospital = await getHospital(ctx, mspId);
  return hospital && !(await isDeparted(ctx, mspId)) ? hospital : undefined;
}
export const requireHospital = (ctx: Context, mspId: string) => required<Hospital>(ctx, KEY.hospital, mspId, 'hospital');
export const requirePatient = (ctx: Context, id: string) => required<Patient>(ctx, KEY.patient, id, 'patient');
export const requireRecord = (ctx: Context, id: string) => required<RecordMeta>(ctx, KEY.record, id, 'record');
export const requireConsent = (ctx: Context, id: string) => required<Consent>(ctx, KEY.consent, id, 'consent');
export const requireRequest = (ctx: Context, id: string) => required<AccessRequest>(ctx, KEY.request, id, 'access request');
