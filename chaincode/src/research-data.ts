// What research statistics count: every active record of every patient who has not opted
// out, reduced to the fields tabulation needs. Read by range scans of the whole world state
// (records and preferences): O(ledger) per query, which suits occasional research queries;
// counters kept on every CreateRecord/EraseRecord would make those transactions collide.
import type { Context } from 'fabric-contract-api';
import type { CountedRecord, RecordMeta, ResearchPreference } from '@ehr/ledger-model';
import { fromBytes, KEY, scan } from './state';

/** Patients whose latest preference is an opt-out. */
export async function optedOutPatients(ctx: Context): Promise<Set<string>> {
  const rows = await scan(ctx, KEY.researchPreference, []);
  return new Set(rows.filter((r) => fromBytes<ResearchPreference>(r.value).optedOut).map((r) => r.attributes[0]));
}

/** Active records of patients who take part in research (erased ones and opted-out patients left out). */
export async function countedRecords(ctx: Context): Promise<CountedRecord[]> {
  const optedOut = await optedOutPatients(ctx);
  const out: CountedRecord[] = [];
  for (const row of await scan(ctx, KEY.record, [])) {
    const r = fromBytes<RecordMeta>(row.value);
    if (r.status !== 'active' || optedOut.has(r.patientId)) continue;
    out.push({ patientId: r.patientId, custodian: r.custodian, category: r.category, createdAt: r.createdAt });
  }
  return out;
}
