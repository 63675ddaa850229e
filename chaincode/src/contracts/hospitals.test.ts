import { generateKeyPairSync } from 'node:crypto';
import { FakeLedger } from '../testing/fake-ledger';
import { admin, auditorId, c, gw, H1, H2, H4, publicKeyPem, rejects } from '../testing/fixtures';

describe('Hospitals', () => {
  let ledger: FakeLedger;
  beforeEach(() => {
    ledger = new FakeLedger();
  });

  const register = (id = admin(H1), key = publicKeyPem(), name = 'Hospital One') =>
    ledger.invoke(id, (ctx) => c.hospitals.RegisterHospital(ctx, name, key));

  test('a hospital registers itself: MSP from the certificate, time from the transaction', async () => {
    const out = await register();
    expect(out).toMatchObject({ mspId: H1, name: 'Hospital One', registeredAt: '2030-01-01T00:00:00.000Z' });
    expect(ledger.lastEvent).toEqual({ name: 'HospitalRegistered', payload: { mspId: H1, txId: 'tx000001' } });
  });

  test('its gateway may register it too; base64 DER is stored as PEM', async () => {
    const der = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'der', type: 'spki' });
    const out = (await register(gw(H2), der.toString('base64'))) as { publicKey: string };
    expect(out.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
  });

  test('registering twice is a conflict', async () => {
    await register();
    await rejects(ledger, register(), 'CONFLICT');
  });

  test('auditors and role-less identities may not register', async () => {
    await rejects(ledger, register(auditorId(H1)), 'FORBIDDEN');
    await rejects(ledger, register({ mspId: H1 }), 'FORBIDDEN');
  });

  test('only P-256 SPKI public keys are accepted', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'pem', type: 'spki' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'pem', type: 'spki' });
    const priv = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' });
    for (const key of [rsa.toString(), p384.toString(), priv.toString(), 'garbage', '', 'QUJD']) {
      await rejects(ledger, register(admin(H1), key), 'INVALID_ARGUMENT');
    }
  });

  test('the name is validated', async () => {
    await rejects(ledger, register(admin(H1), publicKeyPem(), ''), 'INVALID_ARGUMENT');
    await rejects(ledger, register(admin(H1), publicKeyPem(), 'x'.repeat(101)), 'INVALID_ARGUMENT');
  });

  test('key rotation by the same MSP (admin or gateway) changes only its own key', async () => {
    await register();
    await register(admin(H2), publicKeyPem(), 'Hospital Two');
    const before = (await ledger.invoke(gw(H2), (ctx) => c.hospitals.GetHospital(ctx, H2))) as { publicKey: string };
    const key = publicKeyPem();
    ledger.advance(60);
    const out = await ledger.invoke(admin(H1), (ctx) => c.hospitals.RotateKey(ctx, key));
    expect(out).toMatchObject({ mspId: H1, publicKey: key, registeredAt: '2030-01-01T00:00:00.000Z' });
    expect(ledger.lastEvent?.name).toBe('HospitalKeyRotated');
    await ledger.invoke(gw(H1), (ctx) => c.hospitals.RotateKey(ctx, publicKeyPem()));
    const after = (await ledger.invoke(gw(H2), (ctx) => c.hospitals.GetHospital(ctx, H2))) as { publicKey: string };
    expect(after.publicKey).toBe(before.publicKey);
  });

  test('rotation: unregistered is NOT_FOUND, auditors FORBIDDEN, bad keys INVALID', async () => {
    await rejects(ledger, ledger.invoke(admin(H4), (ctx) => c.hospitals.RotateKey(ctx, publicKeyPem())), 'NOT_FOUND');
    await register();
    await rejects(ledger, ledger.invoke(auditorId(H1), (ctx) => c.hospitals.RotateKey(ctx, publicKeyPem())), 'FORBIDDEN');
    await rejects(ledger, ledger.invoke(admin(H1), (ctx) => c.hospitals.RotateKey(ctx, 'nope')), 'INVALID_ARGUMENT');
  });

  test('list and get', async () => {
    await register(admin(H2), publicKeyPem(), 'Hospital Two');
    await register();
    const list = (await ledger.invoke(auditorId(H1), (ctx) => c.hospitals.ListHospitals(ctx))) as { mspId: string }[];
    expect(list.map((h) => h.mspId)).toEqual([H1, H2]);
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.hospitals.GetHospital(ctx, H4)), 'NOT_FOUND');
    await rejects(ledger, ledger.invoke(gw(H1), (ctx) => c.hospitals.GetHospital(ctx, 'bad msp')), 'INVALID_ARGUMENT');
  });
});
