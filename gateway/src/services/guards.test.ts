import pino from 'pino';
import type { Actor } from '../domain.js';
import { Forbidden, NotFound } from '../domain-errors.js';
import type { Ledger } from '../ports.js';
import type { ServiceContext } from './context.js';
import { assertPatientAtHome } from './guards.js';

/** A context whose ledger knows one patient, at home at Hospital2MSP. */
function contextAt(mspId: string): ServiceContext {
    const ledger = {
        getPatient: async (_actor: Actor, patientId: string) => {
            if (patientId !== 'pat-known') throw new NotFound(`patient ${patientId} does not exist`);
            return { homeHospital: 'Hospital2MSP', registeredAt: '2030-01-01T00:00:00.000Z' };
        },
    } as unknown as Ledger;
    return { ledger, blobs: {} as ServiceContext['blobs'], identity: { mspId }, logger: pino({ level: 'silent' }), retryAfterSeconds: 1 } as ServiceContext;
}

const patient = (id: string): Actor => ({ id, role: 'patient' });

describe('assertPatientAtHome', () => {
    test('a patient token is honoured at the home hospital', async () => {
        await expect(assertPatientAtHome(contextAt('Hospital2MSP'), patient('pat-known'), 'pat-known')).resolves.toBeUndefined();
    });

    test('another hospital gets the same 404 for a patient at home elsewhere as for an unknown one', async () => {
        const elsewhere = await assertPatientAtHome(contextAt('Hospital3MSP'), patient('pat-known'), 'pat-known').catch((e: unknown) => e);
        expect(elsewhere).toBeInstanceOf(NotFound);
        expect((elsewhere as Error).message).toMatch(/home hospital's portal/);
        const unknown = await assertPatientAtHome(contextAt('Hospital3MSP'), patient('pat-none'), 'pat-none').catch((e: unknown) => e);
        expect(unknown).toBeInstanceOf(NotFound);
    });

    test('a patient acts only for themselves; clinicians pass through to the chaincode rules', async () => {
        await expect(assertPatientAtHome(contextAt('Hospital2MSP'), patient('pat-other'), 'pat-known')).rejects.toBeInstanceOf(Forbidden);
        await expect(assertPatientAtHome(contextAt('Hospital3MSP'), { id: 'dr-1', role: 'clinician' }, 'pat-known')).resolves.toBeUndefined();
    });
});
