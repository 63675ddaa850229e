// One step of a patient's audit trail as the chaincode's Audit contract returns
// it: derived from key histories and access entries, with the txId and the
// transaction timestamp an auditor can check against the blocks.
export interface AuditEntry {
  txId: string;
  timestamp: string;
  action: string;
  subject: { type: 'patient' | 'record' | 'consent' | 'request'; id: string };
  hospital: string | null;
  actor: string | null;
  details: Record<string, unknown>;
}
