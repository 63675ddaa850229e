// No PHI on the ledger: every stored value carries exactly the fields of DESIGN §4
// (plus requestedAt/requestedBy on requests, registeredBy on patients, role on access entries, emergency on
// break-glass grants, and the break-glass setting; research-preference and research-query are the research
// opt-out and query log, no PHI), and events carry IDs and codes only.
import { DEFAULT_BREAK_GLASS_SETTINGS } from '@ehr/ledger-model';
import { EmergencyAccessContract } from './contracts/emergency-access';
import { FakeLedger } from './testing/fake-ledger';
import {
  actor, admin, c, clinician, consortium, researcher, createRecord, envelope, grant, gw, H1, H2, H3, newId, patientActor, registerPatient,
} from './testing/fixtures';

const FIELDS: Record<string, string[]> = {
  hospital: ['name', 'publicKey', 'registeredAt'],
  patient: ['homeHospital', 'registeredAt', 'registeredBy'],
  record: ['category', 'cid', 'createdAt', 'createdBy', 'custodian', 'patientId', 'size', 'status', 'supersedes'],
  consent: ['expiresAt', 'grantedAt', 'grantee', 'patientId', 'purposes', 'revokedAt', 'scope', 'status'],
  request: ['consentId', 'decidedAt', 'patientId', 'purpose', 'reason', 'requestedAt', 'requestedBy', 'requester', 'scope', 'status'],
  access: ['accessor', 'actor', 'at', 'basis', 'purpose', 'role'],
  holder: ['deliveredBy', 'since'],
  departure: ['approvedAt'],
  departed: ['approvals', 'channelLeftAt', 'departedAt'],
  'breakglass~settings': ['approvedAt', 'approvedBy', 'settings', 'version'],
  'breakglass~approval': ['actor', 'approvedAt', 'settings'],
  'research-preference': ['optedOut', 'setAt'],
  'research-query': ['at', 'dimension', 'hospital', 'minCellSize', 'researcher'],
};
// A break-glass grant is a consent with one more field: codes, a pseudonym and a digest (no free text).
const VARIANTS: Record<string, string[]> = { consent: [...FIELDS.consent, 'emergency'].sort() };
const EMERGENCY_FIELDS = ['declaredBy', 'declaredRole', 'justificationDigest', 'reasonCode'];
const INDEXES = ['cid~record', 'patient~record', 'patient~custodian', 'patient~grantee~consent', 'patient~request', 'emergency~consent'];
// cid: only on RecordErased, the CID of the erased ciphertext (every hospital deletes its blocks).
const EVENT_KEYS = new Set([
  'mspId', 'patientId', 'homeHospital', 'recordId', 'custodian', 'holders', 'erasedBy', 'consentId', 'grantee',
  'requestId', 'requester', 'status', 'accessor', 'purpose', 'basis', 'deliveredBy', 'txId', 'cid',
  'approver', 'patientIds',
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
    const bg = new EmergencyAccessContract();
    await ledger.invoke(gw(H3), (ctx) => bg.DeclareEmergency(ctx, newId(), patientId, 'unconscious', 'b'.repeat(64), '', '', clinician));
    const off = JSON.stringify({ ...DEFAULT_BREAK_GLASS_SETTINGS, enabled: false });
    await ledger.invoke(gw(H1), (ctx) => bg.ApproveSettings(ctx, off, actor('adm-1', 'admin')));
    await ledger.invoke(gw(H2), (ctx) => bg.ApproveSettings(ctx, off, actor('adm-2', 'admin')));
    await ledger.invoke(gw(H3), (ctx) => bg.ApproveSettings(ctx, JSON.stringify(DEFAULT_BREAK_GLASS_SETTINGS), actor('adm-3', 'admin')));
    await ledger.invoke(gw(H2), (ctx) => c.records.EraseRecord(ctx, recordId, patientActor(patientId)));
    await ledger.invoke(gw(H2), (ctx) => c.research.SetResearchPreference(ctx, patientId, 'true', patientActor(patientId)));
    await ledger.invoke(gw(H3), (ctx) => c.research.LogQuery(ctx, newId(), 'category', '10', researcher));
    for (const by of [H1, H2]) await ledger.invoke(admin(by), (ctx) => c.membership.ApproveDeparture(ctx, H3));
    await ledger.invoke(admin(H1), (ctx) => c.membership.ConfirmChannelExit(ctx, H3));
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
      const fields = VARIANTS[type] && 'emergency' in value ? VARIANTS[type] : FIELDS[type];
      expect(Object.keys(value).sort()).toEqual(fields);
      expect(Object.keys(value)).toEqual(fields); // stored in sorted order
      if ('emergency' in value) expect(Object.keys(value.emergency)).toEqual(EMERGENCY_FIELDS);
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
      ['AccessRequested', 'BreakGlassSettingsApproved', 'ConsentGranted', 'ConsentRevoked', 'DepartureApproved', 'EnvelopeDelivered', 'HospitalDeparted', 'HospitalRegistered', 'HospitalRemoved',
        'PatientRegistered', 'RecordAccessed', 'RecordCreated', 'RecordErased', 'RequestDecided', 'ResearchPreferenceSet', 'ResearchQueryLogged'].sort(),
    );
  });
});
