import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { unwrapKey, wrapKey } from '../../gateway/src/crypto/index.js';
import { committedTransaction, connectAs, type Connection } from '../support/fabric.js';
import { hospital, status, type HospitalStatus, type InstanceStatus } from '../support/instance.js';
import { eventually } from '../support/tools.js';

// The chaincode's rules on a real network, through @hyperledger/fabric-gateway
// with the hospitals' gateway identities (no REST gateway in between).

const utf8 = new TextDecoder();
const enc = new TextEncoder();
const CID = 'bafkreic5vk7uty2fd7byqu546gcj73f2ahwxxe45c7br277f6negpf6zsy';

interface Entry {
    txId: string;
    timestamp: string;
    action: string;
    hospital: string | null;
    details: Record<string, unknown>;
}

function chaincodeError(err: unknown): string {
    const e = err as { message?: string; details?: { message?: string }[] };
    return [e.message ?? '', ...(e.details ?? []).map((d) => d.message ?? '')].join('\n');
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
    const err = await p.then(
        () => undefined,
        (e: unknown) => e,
    );
    expect(err).toBeDefined();
    expect(chaincodeError(err)).toContain(`${code}:`);
}

describe('chaincode on the real network', () => {
    let s: InstanceStatus;
    let h: HospitalStatus[];
    let conns: Connection[];
    let auditor: Connection;
    const contract = (n: number) => conns[n - 1].gateway.getNetwork(s.channel).getContract(s.chaincode.name);
    const evaluate = async <T>(n: number, fn: string, ...args: string[]): Promise<T> =>
        JSON.parse(utf8.decode(await contract(n).evaluateTransaction(fn, ...args))) as T;
    const privateKey = (n: number) => readFileSync(path.join(h[n - 1].stateDir, 'secrets', 'encryption.key'), 'utf8');

    const patientId = `Hospital2MSP:cc-${randomUUID().slice(0, 8)}`;
    const recordId = randomUUID();
    const consentId = randomUUID();
    const dataKey = randomBytes(32);
    const clinician = JSON.stringify({ id: 'dr-it', role: 'clinician' });
    const patient = JSON.stringify({ id: patientId, role: 'patient' });
    const auditorActor = JSON.stringify({ id: 'aud-it', role: 'auditor' });

    beforeAll(async () => {
        s = await status();
        h = [1, 2, 3].map((n) => hospital(s, n));
        conns = h.map((x) => connectAs(x));
        auditor = connectAs(h[0], 'auditor');
    });

    afterAll(() => {
        for (const c of [...conns, auditor]) c.close();
    });

    test('every hospital has registered itself with its encryption key', async () => {
        const hospitals = await evaluate<{ mspId: string; publicKey: string }[]>(1, 'Hospitals:ListHospitals');
        expect(hospitals.map((x) => x.mspId).sort()).toEqual(['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP']);
        for (const x of hospitals) expect(x.publicKey).toContain('BEGIN PUBLIC KEY');
    });

    test('hospital 1 stores a record of a hospital 2 patient; the envelope lands in hospital 2 collection with its endorsement', async () => {
        await contract(2).submitTransaction('Patients:RegisterPatient', patientId, clinician);
        const hospitals = await evaluate<{ mspId: string; publicKey: string }[]>(1, 'Hospitals:ListHospitals');
        const key = (msp: string) => hospitals.find((x) => x.mspId === msp)!.publicKey;
        const envelopes = {
            Hospital1MSP: wrapKey(dataKey, key('Hospital1MSP'), { recordId, mspId: 'Hospital1MSP' }),
            Hospital2MSP: wrapKey(dataKey, key('Hospital2MSP'), { recordId, mspId: 'Hospital2MSP' }),
        };
        const submitted = await contract(1).submitAsync('Records:CreateRecord', {
            arguments: [recordId, patientId, CID, '62525', 'lab', '', clinician],
            transientData: { envelopes: enc.encode(JSON.stringify(envelopes)) },
            endorsingOrganizations: ['Hospital1MSP', 'Hospital2MSP'],
        });
        expect((await submitted.getStatus()).successful).toBe(true);
        const tx = await committedTransaction(conns[0], s.channel, submitted.getTransactionId());
        expect(tx.endorserMspIds).toEqual(['Hospital1MSP', 'Hospital2MSP']);
        // The data key never appears in the public transaction: only in transient data.
        expect(utf8.decode(submitted.getResult())).not.toContain(envelopes.Hospital2MSP);

        const env = await evaluate<{ envelope: string }>(2, 'Access:GetEnvelope', recordId, 'treatment');
        expect(unwrapKey(env.envelope, privateKey(2), { recordId, mspId: 'Hospital2MSP' }).equals(dataKey)).toBe(true);
    });

    test('hospital 3 is denied the record: no envelope, no access log entry', async () => {
        // No basis at all: NOT_FOUND, as for an unknown record (need-to-know).
        await rejectsWith(contract(3).evaluateTransaction('Access:GetEnvelope', recordId, 'treatment'), 'NOT_FOUND');
        await rejectsWith(contract(3).submitTransaction('Access:LogAccess', recordId, 'treatment', clinician), 'NOT_FOUND');
        await rejectsWith(contract(3).evaluateTransaction('Records:GetRecord', recordId), 'NOT_FOUND');
    });

    test('consent by the patient at home: the custodian delivers hospital 3 envelope, endorsed by hospital 3', async () => {
        await rejectsWith(
            contract(1).submitTransaction(
                'Consents:GrantConsent', consentId, patientId, 'Hospital3MSP', '{"type":"all"}', '["treatment"]', '', patient,
            ),
            'FORBIDDEN', // hospital 1 is not the patient's home
        );
        await contract(2).submitTransaction(
            'Consents:GrantConsent', consentId, patientId, 'Hospital3MSP', '{"type":"all"}', '["treatment"]', '', patient,
        );
        const env = await eventually('hospital 3 envelope delivery', async () => {
            try {
                return await evaluate<{ envelope: string; basis: string }>(3, 'Access:GetEnvelope', recordId, 'treatment');
            } catch {
                return undefined;
            }
        });
        expect(env.basis).toBe(consentId);
        expect(unwrapKey(env.envelope, privateKey(3), { recordId, mspId: 'Hospital3MSP' }).equals(dataKey)).toBe(true);

        const holders = await evaluate<{ mspId: string; deliveredBy: string }[]>(3, 'Access:ListHolders', recordId);
        expect(holders.find((x) => x.mspId === 'Hospital3MSP')?.deliveredBy).toBe('Hospital1MSP');
        const history = await auditHistory();
        const delivered = history.find((e) => e.action === 'EnvelopeDelivered' && e.details.holder === 'Hospital3MSP');
        expect(delivered).toBeDefined();
        const tx = await committedTransaction(conns[0], s.channel, delivered!.txId);
        expect(tx.endorserMspIds).toContain('Hospital3MSP');

        const logged = await contract(3).submitTransaction('Access:LogAccess', recordId, 'treatment', clinician);
        expect(JSON.parse(utf8.decode(logged))).toMatchObject({ recordId, accessor: 'Hospital3MSP', basis: consentId });
        await rejectsWith(contract(3).evaluateTransaction('Access:GetEnvelope', recordId, 'research'), 'FORBIDDEN');
    });

    test('revocation stops envelope reads at once, and hospital 3 purges its envelope', async () => {
        await contract(2).submitTransaction('Consents:RevokeConsent', consentId, patient);
        await rejectsWith(contract(3).evaluateTransaction('Access:GetEnvelope', recordId, 'treatment'), 'NOT_FOUND');
        await eventually('hospital 3 to purge its envelope', async () => {
            const holders = await evaluate<{ mspId: string }[]>(1, 'Access:ListHolders', recordId);
            return holders.some((x) => x.mspId === 'Hospital3MSP') ? undefined : holders;
        });
    });

    test("the auditor's history shows each step with txId and timestamp", async () => {
        const history = await auditHistory();
        const actions = history.map((e) => e.action);
        for (const a of ['RecordCreated', 'ConsentGranted', 'EnvelopeDelivered', 'RecordAccessed', 'ConsentRevoked', 'EnvelopePurged']) {
            expect(actions).toContain(a);
        }
        for (const e of history) {
            expect(e.txId).toMatch(/^[0-9a-f]{64}$/);
            expect(Number.isNaN(Date.parse(e.timestamp))).toBe(false);
        }
        await rejectsWith(
            contract(1).evaluateTransaction('Audit:RecordHistory', recordId, clinician),
            'FORBIDDEN', // a clinician is no auditor
        );
        // Hospital 3's consent was revoked: no basis left, so for it the record does not exist.
        await rejectsWith(contract(3).evaluateTransaction('Audit:RecordHistory', recordId, auditorActor), 'NOT_FOUND');
    });

    async function auditHistory(): Promise<Entry[]> {
        const c = auditor.gateway.getNetwork(s.channel).getContract(s.chaincode.name);
        const out = JSON.parse(
            utf8.decode(await c.evaluateTransaction('Audit:RecordHistory', recordId, JSON.stringify({ id: 'auditor-it', role: 'auditor' }))),
        ) as { entries: Entry[] };
        return out.entries;
    }
});
