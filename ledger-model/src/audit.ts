// One step of a patient's audit trail as the chaincode's Audit contract returns
// it: derived from key histories and access entries, with the txId and the
// transaction timestamp an auditor can check against the blocks.
export interface AuditEntry {
  txId: string;
  timestamp: string;
  action: string;
  subject: { type: 'patient' | 'record' | 'consent' | 'request'; id: string };
  hospital: string | null;
  /**
   * Always set: the actor pseudonym from the token; or, for what a hospital's gateway does on
   * its own (envelope delivery and purge), gatewayActor(mspId); or, where the actor was never
   * recorded (patients registered before registeredBy existed), unrecordedActor(mspId).
   * Both contain '@', which ACTOR_ID refuses, so neither can be mistaken for a person's pseudonym.
   */
  actor: string;
  details: Record<string, unknown>;
}

/** The actor of a hospital gateway's own custody work (delivering or purging envelopes). */
export const gatewayActor = (mspId: string): string => `gateway@${mspId}`;

/** The actor of an entry whose actor was never recorded, written through mspId's gateway. */
export const unrecordedActor = (mspId: string): string => `unrecorded@${mspId}`;
