// No PHI on the ledger: every stored value carries exactly the fields of DESIGN §4
// (plus requestedAt/requestedBy on requests, registeredBy on patients, role on access entries; research-preference and
// research-query are the research opt-out and query log, no PHI), and events carry IDs and codes only.
import { FakeLedger } from './testing/fake-ledger';
import {
  actor, c, clinician, consortium, researcher, createRecord, envelope, grant, gw, H1, H2, H3, newId, patientActor, registerPatient,
} from './testing/fixtures';

const FIELDS: Record<string, string[]> = {
  hospital: ['name', 'publicKey', 'registeredAt'],
  patient: ['homeHospital', 'registeredAt', 'registeredBy'],
  record: ['category', 'cid', 'createdAt', 'createdBy', 'custodian', 'patientId', 'size', 'status', 'supersedes'],
  consent: ['expiresAt', 'grantedAt', 'grantee', 'patientId', 'purposes', 'revokedAt', 'scope', 'status'],
  request: ['consentId', 'decidedAt', 'patientId', 'purpose', 'reason', 'requestedAt', 'requestedBy', 'requester', 'scope', 'status'],
  access: ['accessor', 'actor', 'at', 'basis', 'purpose', 'role'],
  holder: ['deliveredBy', 'since'],
  'research-preference': ['optedOut', 'setAt'],
  'research-query': ['at', 'dimension', 'hospital', 'minCellSize', 'researcher'],
};
const INDEXES = ['cid~record', 'patient~record', 'patient~grantee~consent', 'patient~request'];
// cid: only on RecordErased, the CID of the erased ciphertext (every hospital deletes its blocks).
const EVENT_KEYS = new Set([
  'mspId', 'patientId', 'homeHospital', 'recordId', 'custodian', 'holders', 'erasedBy', 'consentId', 'grantee',
  'requestId', 'requester', 'status', 'accessor', 'purpose', 'basis', 'deliveredBy', 'txId', 'cid',
  'queryId', 'dimension',
]);

describe('ledger values and events', () => {
  let ledger: FakeLedger;
  beforeAll(async () => {
    ledger = await consortium();
    const patientId = await registerPatient(ledger, H2);
    const recordId = await createRecord(ledger, H1, patientId, H2);
    const requestId = newId();
    await ledger.invoke(gw(H3), (ctx) => c.requests.CreateRequest(ctx, requestId, patientId, 'treatment', '', 'referral', clinician));
    await ledger.invoke(gw(H2), (ctx) => c.requests.ApproveRequest(ctx, requestId, newId(), '', patientActor(patientId)));
    await ledger.invoke(gw(H1), (ctx) => c.access.DeliverEnvelope(ctx, recordId, H3), { transient: { envelope: envelope() } });
    await ledger.invoke(gw(H3), (ctx) => c.access.LogAccess(ctx, recordId, 'treatment', actor('dr-2', 'clinician')));
    const consentId = await grant(ledger, H2, patientId, H1, { purposes: '["research"]', expiresAt: '2031-01-01T00:00:00Z' });
    await ledger.invoke(gw(H2), (ctx) => c.consents.RevokeConsent(ctx, consentId, patientActor(patientId)));
    await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
    await ledger.invoke(gw(H2), (ctx) => c.research.SetResearchPreference(ctx, patientId, 'true', patientActor(patientId)));
    await ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, newId(), 'category', '10', researcher));
  });

  test('every public value has exactly its §4 fields, serialised with sorted keys', () => {
    const seen = new Set<string>();
    for (const [k, bytes] of ledger.state) {
      const type = k.split('\u0000')[1];
      seen.add(type);
      if (INDEXES.includes(type)) {
        expect([...bytes]).toEqual([0]);
        continue;
      }
      const text = Buffer.from(bytes).toString();
      const value = JSON.parse(text);
      expect(FIELDS[type]).toBeDefined();
      expect(Object.keys(value).sort()).toEqual(FIELDS[type]);
      expect(Object.keys(value)).toEqual(FIELDS[type]); // stored in sorted order
    }
    expect([...seen].sort()).toEqual([...Object.keys(FIELDS), ...INDEXES].sort());
  });

  test('no data key appears in public state', () => {
    const publicText = [...ledger.state.values()].map((b) => Buffer.from(b).toString()).join('\n');
    for (const collection of ledger.privateData.values()) {
      for (const bytes of collection.values()) {
        expect(publicText).not.toContain(JSON.parse(Buffer.from(bytes).toString()).envelope);
      }
    }
  });

  test('events carry IDs and codes only', () => {
    const names = new Set<string>();
    for (const { event } of ledger.log) {
      expect(event).not.toBeNull();
      names.add(event!.name);
      for (const k of Object.keys(event!.payload)) expect(EVENT_KEYS).toContain(k);
    }
    expect([...names].sort()).toEqual(
      ['AccessRequested', 'ConsentGranted', 'ConsentRevoked', 'EnvelopeDelivered', 'HospitalRegistered', 'PatientRegistered',
        'RecordAccessed', 'RecordCreated', 'RecordErased', 'RequestDecided', 'ResearchPreferenceSet', 'ResearchQueryLogged'].sort(),
    );
  });
});
