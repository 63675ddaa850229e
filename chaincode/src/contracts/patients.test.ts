import { FakeLedger } from '../testing/fake-ledger';
import { actor, admin, c, clinician, gw, H1, H2, H3, rejects } from '../testing/fixtures';

describe('Patients', () => {
  let ledger: FakeLedger;
  beforeEach(() => {
    ledger = new FakeLedger();
  });

  const P1 = `${H1}:p-0001`;
  const register = (id = gw(H1), patientId = P1, who = clinician) =>
    ledger.invoke(id, (ctx) => c.patients.RegisterPatient(ctx, patientId, who));

  test('the calling gateway’s hospital becomes the home hospital', async () => {
    expect(await register()).toEqual({ patientId: P1, homeHospital: H1, registeredAt: '2030-01-01T00:00:00.000Z' });
    expect(ledger.lastEvent?.payload).toEqual({ patientId: P1, homeHospital: H1, txId: 'tx000001' });
    expect(await ledger.invoke(gw(H2), (ctx) => c.patients.GetPatient(ctx, P1))).toEqual({ patientId: P1, homeHospital: H1, registeredAt: '2030-01-01T00:00:00.000Z' });
  });

  test('records who registered the patient, for the audit trail only', async () => {
    await register();
    const [value] = [...ledger.state.entries()].filter(([k]) => k.split('\u0000')[1] === 'patient').map(([, v]) => JSON.parse(Buffer.from(v).toString()));
    expect(value).toEqual({ homeHospital: H1, registeredAt: '2030-01-01T00:00:00.000Z', registeredBy: 'dr-7f3a' });
  });

  test('an admin actor may register too', async () => {
    await register(gw(H1), `${H1}:p-0002`, actor('it-admin', 'admin'));
  });

  test('a pseudonym is registered once (CONFLICT)', async () => {
    await register();
    await rejects(ledger, register(), 'CONFLICT');
  });

  test("no hospital can capture another's patients: only IDs in its own namespace", async () => {
    // Before and after hospital 1 registers it, hospital 2 gets the same answer: nothing about existence.
    await rejects(ledger, register(gw(H2)), 'INVALID_ARGUMENT', new RegExp(`start with '${H2}:'`));
    await register();
    await rejects(ledger, register(gw(H2)), 'INVALID_ARGUMENT', new RegExp(`start with '${H2}:'`));
    // No namespace, or a prefix that only looks like one, is refused too.
    await rejects(ledger, register(gw(H1), 'p-0003'), 'INVALID_ARGUMENT');
    await rejects(ledger, register(gw(H1), `${H1}x:p-0003`), 'INVALID_ARGUMENT');
    expect(await ledger.invoke(gw(H3), (ctx) => c.patients.GetPatient(ctx, P1))).toMatchObject({ homeHospital: H1 });
  });

  test('only gateways, acting for a clinician or admin', async () => {
    await rejects(ledger, register(admin(H1)), 'FORBIDDEN');
    await rejects(ledger, register(gw(H1), P1, actor(P1, 'patient')), 'FORBIDDEN');
    await rejects(ledger, register(gw(H1), P1, actor('aud-1', 'auditor')), 'FORBIDDEN');
  });

  test('IDs and actors are validated', async () => {
    await rejects(ledger, register(gw(H1), 'Jane Doe'), 'INVALID_ARGUMENT');
    await rejects(ledger, register(gw(H1), P1, '{"id":"dr-1"}'), 'INVALID_ARGUMENT');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.patients.GetPatient(ctx, `${H1}:p-9999`)), 'NOT_FOUND');
  });
});
