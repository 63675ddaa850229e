import { DEFAULT_BREAK_GLASS_SETTINGS } from '@ehr/ledger-model';
import { EmergencyAccessContract } from './emergency-access';
import { FakeLedger, type Identity } from '../testing/fake-ledger';
import {
  actor, admin, c, clinician, consortium, createRecord, envelope, gw, H1, H2, H3, newId, patientActor, registerPatient, rejects,
} from '../testing/fixtures';

const bg = new EmergencyAccessContract();
const DIGEST = 'a'.repeat(64);

describe('EmergencyAccess', () => {
  let ledger: FakeLedger;
  let patientId: string;
  let recordId: string;
  beforeEach(async () => {
    ledger = await consortium();
    patientId = await registerPatient(ledger, H1);
    recordId = await createRecord(ledger, H1, patientId, H1, { category: 'lab' });
  });

  const declare = (
    id: Identity,
    o: { consentId?: string; patient?: string; reason?: string; digest?: string; categories?: string; minutes?: string; actor?: string } = {},
  ) =>
    ledger.invoke(id, (ctx) =>
      bg.DeclareEmergency(
        ctx,
        o.consentId ?? newId(),
        o.patient ?? patientId,
        o.reason ?? 'unconscious',
        o.digest ?? DIGEST,
        o.categories ?? '',
        o.minutes ?? '',
        o.actor ?? clinician,
      ),
    ) as Promise<Record<string, unknown>>;
  const approve = (msp: string, settings: object, who = actor('admin-1', 'admin')) =>
    ledger.invoke(gw(msp), (ctx) => bg.ApproveSettings(ctx, JSON.stringify(settings), who)) as Promise<Record<string, unknown>>;
  const review = async (msp: string) => (await ledger.invoke(gw(msp), (ctx) => bg.ListEmergencyGrants(ctx))) as Array<Record<string, unknown>>;

  test('a declaration is a consent to the declaring hospital: purpose emergency, default scope and duration, ConsentGranted', async () => {
    const consentId = newId();
    const out = await declare(gw(H3), { consentId });
    expect(out).toMatchObject({
      consentId, patientId, grantee: H3, purposes: ['emergency'], status: 'active', inForce: true,
      scope: { type: 'categories', categories: [...DEFAULT_BREAK_GLASS_SETTINGS.categories].sort() },
      grantedAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-01T04:00:00.000Z',
      emergency: { reasonCode: 'unconscious', declaredBy: 'dr-7f3a', declaredRole: 'clinician', justificationDigest: DIGEST },
    });
    expect(ledger.lastEvent).toEqual({ name: 'ConsentGranted', payload: { consentId, patientId, grantee: H3, txId: expect.any(String) } });
  });

  test('reads under it need purpose emergency and are logged with a break-glass basis; the patient ends it', async () => {
    const consentId = newId();
    await declare(gw(H3), { consentId, categories: '["lab"]', minutes: '30' });
    await ledger.invoke(gw(H1), (ctx) => c.access.DeliverEnvelope(ctx, recordId, H3), { transient: { envelope: envelope() } });
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.access.LogAccess(ctx, recordId, 'treatment', clinician)), 'FORBIDDEN');
    const logged = (await ledger.invoke(gw(H3), (ctx) => c.access.LogAccess(ctx, recordId, 'emergency', clinician))) as Record<string, unknown>;
    expect(logged).toMatchObject({ basis: `breakglass:${consentId}`, purpose: 'emergency' });

    const [item] = await review(H3);
    expect(item).toMatchObject({ consentId, homeHospital: H1, accesses: [expect.objectContaining({ recordId, custodian: H1, basis: `breakglass:${consentId}` })] });
    expect(await review(H1)).toHaveLength(1); // home and custodian
    expect(await review(H2)).toEqual([]); // no stake

    await ledger.invoke(gw(H1), (ctx) => c.consents.RevokeConsent(ctx, consentId, patientActor(patientId)));
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.access.LogAccess(ctx, recordId, 'emergency', clinician)), 'NOT_FOUND');

    // The patient's trail: declared by the clinician at hospital 3, ended by the patient at home.
    const trail = (await ledger.invoke(gw(H1), (ctx) => c.audit.PatientHistory(ctx, patientId, patientActor(patientId)))) as { entries: Array<Record<string, unknown>> };
    expect(trail.entries.filter((e) => (e.subject as { id: string }).id === consentId)).toEqual([
      expect.objectContaining({ action: 'ConsentGranted', hospital: H3, actor: 'dr-7f3a', details: expect.objectContaining({ emergencyReason: 'unconscious' }) }),
      expect.objectContaining({ action: 'ConsentRevoked', hospital: H1, actor: patientId }),
    ]);
  });

  test('it lapses by the transaction time', async () => {
    await declare(gw(H3), { minutes: '1' });
    ledger.advance(61);
    await rejects(ledger, ledger.invoke(gw(H3), (ctx) => c.access.LogAccess(ctx, recordId, 'emergency', clinician)), 'NOT_FOUND');
    await declare(gw(H3), { minutes: '1' }); // the lapsed one no longer blocks a new one
  });

  test('refused: bad input, unknown patient, the home hospital, a second grant in force, wrong roles', async () => {
    await rejects(ledger, declare(gw(H3), { reason: 'bored' }), 'INVALID_ARGUMENT');
    await rejects(ledger, declare(gw(H3), { digest: 'not hex' }), 'INVALID_ARGUMENT');
    await rejects(ledger, declare(gw(H3), { minutes: '721' }), 'INVALID_ARGUMENT');
    await rejects(ledger, declare(gw(H3), { minutes: '-5' }), 'INVALID_ARGUMENT');
    await rejects(ledger, declare(gw(H3), { categories: '["x-ray"]' }), 'INVALID_ARGUMENT');
    await rejects(ledger, declare(gw(H3), { patient: 'Hospital2MSP:nobody' }), 'NOT_FOUND');
    await rejects(ledger, declare(gw(H1)), 'CONFLICT');
    await rejects(ledger, declare(gw(H3), { actor: patientActor(patientId) }), 'FORBIDDEN');
    await rejects(ledger, declare(gw(H3), { actor: actor('aud-1', 'auditor') }), 'FORBIDDEN');
    await rejects(ledger, declare(admin(H3)), 'FORBIDDEN');
    await declare(gw(H3));
    await rejects(ledger, declare(gw(H3)), 'CONFLICT');
  });

  test('the setting changes only with a majority of hospitals, one vote each, and then binds declarations', async () => {
    const narrow = { ...DEFAULT_BREAK_GLASS_SETTINGS, categories: ['note'], maxDurationMinutes: 60, defaultDurationMinutes: 30 };
    expect(await approve(H1, narrow)).toMatchObject({ applied: false, approvals: [H1], needed: 2 });
    await rejects(ledger, approve(H1, narrow), 'CONFLICT');
    await rejects(ledger, approve(H2, narrow, clinician), 'FORBIDDEN');
    await rejects(ledger, approve(H2, { ...narrow, maxDurationMinutes: 10 }), 'INVALID_ARGUMENT'); // default above max
    await rejects(ledger, approve(H2, { ...narrow, extra: 1 }), 'INVALID_ARGUMENT');
    await rejects(ledger, approve(H2, DEFAULT_BREAK_GLASS_SETTINGS), 'CONFLICT'); // already in force
    await declare(gw(H3), { minutes: '600' }); // still the defaults
    expect(await approve(H2, narrow)).toMatchObject({ applied: true, approvals: [H1, H2] });
    const settings = (await ledger.invoke(gw(H3), (ctx) => bg.GetSettings(ctx))) as Record<string, unknown>;
    expect(settings).toMatchObject({ version: 1, settings: narrow, approvedBy: [H1, H2], pending: [] });

    const other = await registerPatient(ledger, H1);
    await rejects(ledger, declare(gw(H2), { patient: other, minutes: '61' }), 'INVALID_ARGUMENT');
    await rejects(ledger, declare(gw(H2), { patient: other, categories: '["lab"]' }), 'INVALID_ARGUMENT');
    expect(await declare(gw(H2), { patient: other })).toMatchObject({ scope: { type: 'categories', categories: ['note'] }, expiresAt: '2030-01-01T00:30:00.000Z' });

    // Disabled: nobody breaks the glass. Approvals of the earlier round do not count again.
    const off = { ...narrow, enabled: false };
    await approve(H1, off);
    await approve(H3, off);
    await rejects(ledger, declare(gw(H3), { patient: other }), 'FORBIDDEN');
  });
});
