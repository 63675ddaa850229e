// Shared test set-up: three registered hospitals, identities, actors and valid inputs.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { AccessRequestsContract } from '../contracts/access-requests';
import { AccessContract } from '../contracts/access';
import { AuditContract } from '../contracts/audit';
import { ConsentsContract } from '../contracts/consents';
import { HospitalsContract } from '../contracts/hospitals';
import { MembershipContract } from '../contracts/membership';
import { ListsContract } from '../contracts/lists';
import { PatientsContract } from '../contracts/patients';
import { RecordsContract } from '../contracts/records';
import { ResearchContract } from '../contracts/research';
import { FakeLedger, type Identity } from './fake-ledger';

export const H1 = 'Hospital1MSP';
export const H2 = 'Hospital2MSP';
export const H3 = 'Hospital3MSP';
export const H4 = 'Hospital4MSP'; // a member that never registered

export const gw = (mspId: string): Identity => ({ mspId, role: 'gateway' });
export const admin = (mspId: string): Identity => ({ mspId, role: 'admin' });
export const auditorId = (mspId: string): Identity => ({ mspId, role: 'auditor' });

export const actor = (id: string, role: string) => JSON.stringify({ id, role });
export const clinician = actor('dr-7f3a', 'clinician');
export const researcher = actor('res-1', 'researcher');
export const patientActor = (patientId: string) => actor(patientId, 'patient');

export const CID = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy';

/** A fresh CIDv1 (raw, sha2-256) of random bytes: the ledger refuses a CID used twice. */
export function newCid(): string {
  const bytes = Buffer.concat([Buffer.from([0x01, 0x55, 0x12, 0x20]), randomBytes(32)]);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let acc = 0;
  let out = 'b';
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31];
  return out;
}
export const envelope = () => randomBytes(125).toString('base64');
export const newId = () => randomUUID();

export const publicKeyPem = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();

export const c = {
  hospitals: new HospitalsContract(),
  patients: new PatientsContract(),
  records: new RecordsContract(),
  consents: new ConsentsContract(),
  requests: new AccessRequestsContract(),
  access: new AccessContract(),
  audit: new AuditContract(),
  membership: new MembershipContract(),
  research: new ResearchContract(),
  lists: new ListsContract(),
};

/** Asserts a coded failure that left the ledger untouched (nothing committed, no event). */
export async function rejects(ledger: FakeLedger, p: Promise<unknown>, code: string, detail?: RegExp) {
  const before = { state: ledger.state.size, log: ledger.log.length };
  await expect(p).rejects.toThrow(new RegExp(`^${code}: `));
  if (detail) await expect(p).rejects.toThrow(detail);
  expect({ state: ledger.state.size, log: ledger.log.length }).toEqual(before);
}

export async function consortium(): Promise<FakeLedger> {
  const ledger = new FakeLedger();
  for (const [msp, name] of [
    [H1, 'Hospital One'],
    [H2, 'Hospital Two'],
    [H3, 'Hospital Three'],
  ]) {
    await ledger.invoke(admin(msp), (ctx) => c.hospitals.RegisterHospital(ctx, name, publicKeyPem()));
  }
  return ledger;
}

export async function registerPatient(ledger: FakeLedger, home: string, patientId = `${home}:p-${newId()}`) {
  await ledger.invoke(gw(home), (ctx) => c.patients.RegisterPatient(ctx, patientId, clinician));
  return patientId;
}

export interface RecordOptions {
  category?: string;
  supersedes?: string;
  envelopes?: Record<string, string>;
  recordId?: string;
  cid?: string;
}

export async function createRecord(ledger: FakeLedger, custodian: string, patientId: string, home: string, o: RecordOptions = {}) {
  const recordId = o.recordId ?? newId();
  const envelopes = o.envelopes ?? { [custodian]: envelope(), [home]: envelope() };
  await ledger.invoke(
    gw(custodian),
    (ctx) => c.records.CreateRecord(ctx, recordId, patientId, o.cid ?? newCid(), '63800', o.category ?? 'imaging', o.supersedes ?? '', clinician),
    { transient: { envelopes: JSON.stringify(envelopes) } },
  );
  return recordId;
}

export interface ConsentOptions {
  scope?: string;
  purposes?: string;
  expiresAt?: string;
  consentId?: string;
}

export async function grant(ledger: FakeLedger, home: string, patientId: string, grantee: string, o: ConsentOptions = {}) {
  const consentId = o.consentId ?? newId();
  await ledger.invoke(gw(home), (ctx) =>
    c.consents.GrantConsent(
      ctx,
      consentId,
      patientId,
      grantee,
      o.scope ?? '',
      o.purposes ?? '["treatment"]',
      o.expiresAt ?? '',
      patientActor(patientId),
    ),
  );
  return consentId;
}
