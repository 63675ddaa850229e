// The chaincode events (DESIGN §4): one per transaction (Fabric keeps only the last
// setEvent), named here with their payloads so the chaincode that emits them and the
// gateways that follow them agree. Payloads carry IDs and codes only, never PHI; the
// chaincode adds the txId to every one.
import type { Purpose, RequestDecision } from './vocabulary.js';

export interface LedgerEvents {
  HospitalRegistered: { mspId: string };
  HospitalKeyRotated: { mspId: string };
  /** One member's admin approved that mspId leave; not yet a majority. */
  DepartureApproved: { mspId: string; approver: string };
  /** mspId left (a majority approved); patientIds: those whose consents to it were revoked, sorted. */
  HospitalDeparted: { mspId: string; patientIds: string[] };
  /** The channel update that removed mspId was confirmed: it no longer counts for endorsement. */
  HospitalRemoved: { mspId: string };
  PatientRegistered: { patientId: string; homeHospital: string };
  /** holders: the MSP IDs that got an envelope with the record, sorted. */
  /** `holders`: who got an envelope in the record's own transaction; `homeHospital`: the patient's, so only it and the custodian need to look further. */
  RecordCreated: { recordId: string; patientId: string; custodian: string; homeHospital: string; holders: string[] };
  /**
   * cid: the erased ciphertext's, so every hospital can discard its blocks from its own
   * IPFS node, also one that holds them as a Cluster replica without a basis to read the
   * record (a CID of ciphertext discloses nothing).
   */
  RecordErased: { recordId: string; patientId: string; custodian: string; erasedBy: string; cid: string };
  ConsentGranted: { consentId: string; patientId: string; grantee: string };
  ConsentRevoked: { consentId: string; patientId: string; grantee: string };
  AccessRequested: { requestId: string; patientId: string; requester: string; homeHospital: string };
  RequestDecided: { requestId: string; patientId: string; requester: string; status: RequestDecision; consentId: string | null };
  /** basis: a consentId, or 'custodian', or 'home'. */
  RecordAccessed: { recordId: string; patientId: string; accessor: string; purpose: Purpose; basis: string };
  EnvelopeDelivered: { recordId: string; patientId: string; grantee: string; deliveredBy: string };
  EnvelopePurged: { recordId: string; patientId: string; mspId: string };
  /** A batch delivery (Access:DeliverEnvelopes): the records whose envelope was stored, sorted. */
  EnvelopesDelivered: { grantee: string; deliveredBy: string; recordIds: string[] };
  /** A hospital's admin approved a break-glass setting; status `applied` once a majority did. */
  BreakGlassSettingsApproved: { mspId: string; status: 'pending' | 'applied' };
  /** A patient's research opt-out changed (the choice itself is on the ledger, not in the event). */
  ResearchPreferenceSet: { patientId: string; homeHospital: string };
  /** A statistics query was logged before it was answered (research-query ~ queryId). */
  ResearchQueryLogged: { queryId: string; accessor: string; dimension: string };
}

export type EventName = keyof LedgerEvents;

/** An event's payload as it travels: the emitted fields plus the transaction's ID. */
export type EventPayload<N extends EventName> = LedgerEvents[N] & { txId: string };

export const EVENT_NAMES = [
  'HospitalRegistered',
  'HospitalKeyRotated',
  'DepartureApproved',
  'HospitalDeparted',
  'HospitalRemoved',
  'PatientRegistered',
  'RecordCreated',
  'RecordErased',
  'ConsentGranted',
  'ConsentRevoked',
  'AccessRequested',
  'RequestDecided',
  'RecordAccessed',
  'EnvelopeDelivered',
  'EnvelopePurged',
  'EnvelopesDelivered',
  'BreakGlassSettingsApproved',
  'ResearchPreferenceSet',
  'ResearchQueryLogged',
] as const satisfies readonly EventName[];

// Every name of LedgerEvents is listed (a compile error otherwise).
type Missing = Exclude<EventName, (typeof EVENT_NAMES)[number]>;
const _allListed: Missing extends never ? true : Missing = true;
void _allListed;

export const isEventName = (value: unknown): value is EventName => (EVENT_NAMES as readonly unknown[]).includes(value);
