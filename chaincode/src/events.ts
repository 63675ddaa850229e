// Fabric keeps only the last setEvent of a transaction, so each transaction
// emits exactly one event. Payloads carry IDs and codes only, never PHI.
import type { Context } from 'fabric-contract-api';
import { toBytes } from './state';

export type EventName =
  | 'HospitalRegistered'
  | 'HospitalKeyRotated'
  | 'PatientRegistered'
  | 'RecordCreated'
  | 'RecordErased'
  | 'ConsentGranted'
  | 'ConsentRevoked'
  | 'AccessRequested'
  | 'RequestDecided'
  | 'RecordAccessed'
  | 'EnvelopeDelivered'
  | 'EnvelopePurged';

export function emit(ctx: Context, name: EventName, payload: Record<string, string | string[] | null>): void {
  ctx.stub.setEvent(name, toBytes({ ...payload, txId: ctx.stub.getTxID() }));
}
