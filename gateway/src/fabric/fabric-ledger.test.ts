import { common } from '@hyperledger/fabric-protos';
import { generateEncryptionKeyPair } from '../crypto/index.js';
import { TransactionInvalidError, TransactionOutcomeUnknownError, VALIDATION } from './errors.js';
import type { Contract } from '@hyperledger/fabric-gateway';
import type { FabricConnection } from './connection.js';
import { ResilientContract } from './resilient.js';
import { FabricLedger, UnknownLedgerKeyError, combinations } from './fabric-ledger.js';

const MSP = 'Hospital1MSP';
const utf8 = new TextEncoder();

/** A contract whose ledger holds one hospital entry (or none) and which records what is submitted. */
function fakeConnection(registeredKey: string | undefined) {
    const submitted: { name: string; args: string[] }[] = [];
    const contract = {
        evaluate: async (name: string) => {
            if (name !== 'Hospitals:ListHospitals') throw new Error(`unexpected ${name}`);
            const hospitals = registeredKey ? [{ mspId: MSP, name: 'hospital1', publicKey: registeredKey, registeredAt: '2026-01-01T00:00:00Z' }] : [];
            return utf8.encode(JSON.stringify(hospitals));
        },
        newProposal: (name: string, options: { arguments: string[] }) => ({
            endorse: async () => ({
                getTransactionId: () => 'tx-1',
                getResult: () => utf8.encode('{}'),
                submit: async () => {
                    submitted.push({ name, args: options.arguments });
                    return { getTransactionId: () => 'tx-1', getStatus: async () => ({ successful: true, transactionId: 'tx-1', code: 0 }) };
                },
            }),
        }),
    };
    const resilient = new ResilientContract(contract as unknown as Contract, async () => undefined);
    return { connection: { contract, resilient } as unknown as FabricConnection, submitted };
}

describe('FabricLedger.registerSelf', () => {
    const current = generateEncryptionKeyPair();
    const previous = generateEncryptionKeyPair();
    const stranger = generateEncryptionKeyPair();

    it('registers a hospital the ledger does not know yet', async () => {
        const { connection, submitted } = fakeConnection(undefined);
        await expect(new FabricLedger(connection, MSP).registerSelf('hospital1', current.publicKey)).resolves.toBe('registered');
        expect(submitted).toEqual([{ name: 'Hospitals:RegisterHospital', args: ['hospital1', current.publicKey] }]);
    });

    it('leaves the same key alone, however its PEM is wrapped', async () => {
        const { connection, submitted } = fakeConnection(current.publicKey.trim().replace(/\n/g, '\r\n'));
        await expect(new FabricLedger(connection, MSP).registerSelf('hospital1', current.publicKey)).resolves.toBe('unchanged');
        expect(submitted).toEqual([]);
    });

    it('rotates away from a key it still holds', async () => {
        const { connection, submitted } = fakeConnection(previous.publicKey);
        const ledger = new FabricLedger(connection, MSP);
        await expect(ledger.registerSelf('hospital1', current.publicKey, { previousPublicKeys: [previous.publicKey] })).resolves.toBe('rotated');
        expect(submitted).toEqual([{ name: 'Hospitals:RotateKey', args: [current.publicKey] }]);
    });

    it('refuses to rotate away from a key it does not hold, which would orphan every envelope wrapped to it', async () => {
        const { connection, submitted } = fakeConnection(stranger.publicKey);
        const ledger = new FabricLedger(connection, MSP);
        await expect(ledger.registerSelf('hospital1', current.publicKey, { previousPublicKeys: [previous.publicKey] })).rejects.toThrow(
            UnknownLedgerKeyError,
        );
        expect(submitted).toEqual([]);
    });

    it('rotates away from an unknown key only when told the envelopes may be given up', async () => {
        const { connection, submitted } = fakeConnection(stranger.publicKey);
        await expect(new FabricLedger(connection, MSP).registerSelf('hospital1', current.publicKey, { replaceUnknown: true })).resolves.toBe('rotated');
        expect(submitted.map((s) => s.name)).toEqual(['Hospitals:RotateKey']);
    });
});

describe('FabricLedger.listHospitals', () => {
    /** A contract that counts its ListHospitals evaluations; `fail` makes the next one fail. */
    function counting() {
        const state = { reads: 0, fail: false };
        const contract = {
            evaluate: async () => {
                state.reads++;
                if (state.fail) {
                    state.fail = false;
                    throw new Error('peer unavailable');
                }
                return utf8.encode(JSON.stringify([{ mspId: MSP, name: 'hospital1', publicKey: 'k', registeredAt: '2026-01-01T00:00:00Z' }]));
            },
        };
        const resilient = new ResilientContract(contract as unknown as Contract, async () => undefined);
        return { ledger: new FabricLedger({ contract, resilient } as unknown as FabricConnection, MSP), state };
    }

    it('reads the list once for many stores, and again after a Hospital* event invalidated it', async () => {
        const { ledger, state } = counting();
        await Promise.all([ledger.listHospitals(), ledger.listHospitals(), ledger.listHospitals()]);
        await ledger.listHospitals();
        expect(state.reads).toBe(1);
        ledger.invalidateHospitals();
        expect(await ledger.listHospitals()).toHaveLength(1);
        expect(state.reads).toBe(2);
    });

    it('keeps no failed read: the next call asks the peer again', async () => {
        const { ledger, state } = counting();
        state.fail = true;
        await expect(ledger.listHospitals()).rejects.toThrow();
        await expect(ledger.listHospitals()).resolves.toHaveLength(1);
        expect(state.reads).toBeGreaterThanOrEqual(2);
    });
});

describe('combinations (choices of endorsers to top a plan up to a majority)', () => {
    it('lists every k-subset once, in order', () => {
        expect(combinations(['H2', 'H3', 'H4'], 2)).toEqual([['H2', 'H3'], ['H2', 'H4'], ['H3', 'H4']]);
        expect(combinations(['H2', 'H3'], 1)).toEqual([['H2'], ['H3']]);
        expect(combinations(['H2'], 0)).toEqual([[]]);
        expect(combinations(['H2'], 2)).toEqual([]);
    });
});

/** A network whose channel configuration (cscc GetChannelConfig) names `orgs()` as its organisations. */
function channelNetwork(orgs: () => string[]) {
    return {
        getName: () => 'ehr',
        getContract: () => ({
            evaluateTransaction: async () => {
                const application = new common.ConfigGroup();
                for (const org of orgs()) application.getGroupsMap().set(org, new common.ConfigGroup());
                const group = new common.ConfigGroup();
                group.getGroupsMap().set('Application', application);
                const config = new common.Config();
                config.setChannelGroup(group);
                return config.serializeBinary();
            },
        }),
    };
}

describe('FabricLedger endorsement plans follow the channel, not the ledger', () => {
    /** A channel of `orgs` (cscc), and a resilient contract that fails a plan naming fewer than a majority of `policyOrgs()`. */
    function channel(orgs: () => string[], policyOrgs: () => string[]) {
        const plans: string[][][] = [];
        const network = channelNetwork(orgs);
        const resilient = {
            submit: async (_name: string, _args: string[], options: { endorsementPlans?: string[][] }) => {
                plans.push(options.endorsementPlans ?? []);
                const first = options.endorsementPlans?.[0] ?? [];
                // Fabric's MAJORITY written out rather than majority(): the fake stands for the
                // channel, so it must not share the code whose plans it judges.
                if (first.length < Math.floor(policyOrgs().length / 2) + 1) throw new TransactionInvalidError('tx-short', VALIDATION.ENDORSEMENT_POLICY_FAILURE);
                return { result: utf8.encode('{}'), txId: 'tx-ok' };
            },
        };
        return { ledger: new FabricLedger({ network, resilient } as unknown as FabricConnection, 'Hospital1MSP'), plans };
    }

    it('names a majority of the channel organisations, one of them every other choice', async () => {
        const orgs = ['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP', 'Hospital4MSP'];
        const { ledger, plans } = channel(() => orgs, () => orgs);
        await ledger.deliverEnvelope('r-1', 'Hospital4MSP', 'env');
        expect(plans).toEqual([[['Hospital1MSP', 'Hospital2MSP', 'Hospital4MSP'], ['Hospital1MSP', 'Hospital3MSP', 'Hospital4MSP']]]);
    });

    it('a hospital joined since the cached read: the commit fails its policy, the organisations are read again and the write retried once', async () => {
        let orgs = ['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP'];
        const { ledger, plans } = channel(() => orgs, () => orgs);
        await ledger.deliverEnvelope('r-1', 'Hospital2MSP', 'env'); // caches three organisations
        orgs = [...orgs, 'Hospital4MSP'];
        await ledger.deliverEnvelope('r-2', 'Hospital2MSP', 'env');
        expect(plans.slice(1).map((p) => p[0].length)).toEqual([2, 3]);
    });

    it('a retry that is still one short fails as before: one retry, not a loop', async () => {
        const orgs = ['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP', 'Hospital4MSP'];
        const { ledger, plans } = channel(() => ['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP'], () => [...orgs, 'Hospital5MSP', 'Hospital6MSP']);
        await expect(ledger.deliverEnvelope('r-1', 'Hospital2MSP', 'env')).rejects.toBeInstanceOf(TransactionInvalidError);
        expect(plans).toHaveLength(2); // the first try and one retry with a fresh read, which is still short
    });
});

describe('FabricLedger.createRecord with optional envelopes (a plan\'s grantees)', () => {
    const orgs = ['Hospital1MSP', 'Hospital2MSP', 'Hospital3MSP'];
    const record = { recordId: 'r-1', patientId: 'Hospital2MSP:p-1', cid: 'bafy', ciphertextSize: 10, category: 'lab' as const };
    const ledgerRecord = { recordId: 'r-1', patientId: 'Hospital2MSP:p-1', custodian: 'Hospital1MSP', cid: 'bafy', size: 10, category: 'lab', supersedes: null, status: 'active', createdAt: 't', createdBy: 'dr' };
    /** A channel whose write fails (with `failure`) while its transient envelopes name Hospital3MSP. */
    function writing(failure: () => Error) {
        const writes: { holders: string[]; plans: string[][]; failFast: boolean }[] = [];
        const network = channelNetwork(() => orgs);
        const resilient = {
            submit: async (_name: string, _args: string[], options: { endorsementPlans: string[][]; transientData: { envelopes: Uint8Array }; failFastEndorsement?: boolean }) => {
                const holders = Object.keys(JSON.parse(new TextDecoder().decode(options.transientData.envelopes)) as object).sort();
                writes.push({ holders, plans: options.endorsementPlans, failFast: options.failFastEndorsement === true });
                if (holders.includes('Hospital3MSP')) throw failure();
                return { result: utf8.encode(JSON.stringify(ledgerRecord)), txId: 'tx-ok' };
            },
        };
        return { ledger: new FabricLedger({ network, resilient } as unknown as FabricConnection, 'Hospital1MSP'), writes };
    }
    const envelopes = new Map([['Hospital1MSP', 'e1'], ['Hospital2MSP', 'e2'], ['Hospital3MSP', 'e3']]);

    it('names every holder as endorser, fails fast, and writes without the optional ones when that fails', async () => {
        const { ledger, writes } = writing(() => new Error('14 UNAVAILABLE: Hospital3MSP peer down'));
        await expect(ledger.createRecord({ id: 'dr', role: 'clinician' }, record, envelopes, new Set(['Hospital3MSP']))).resolves.toMatchObject({ txId: 'tx-ok' });
        expect(writes).toEqual([
            { holders: orgs, plans: [orgs], failFast: true },
            { holders: ['Hospital1MSP', 'Hospital2MSP'], plans: [['Hospital1MSP', 'Hospital2MSP']], failFast: false },
        ]);
    });

    it('does not write again when the first write may have committed', async () => {
        const { ledger, writes } = writing(() => new TransactionOutcomeUnknownError(['tx-1']));
        await expect(ledger.createRecord({ id: 'dr', role: 'clinician' }, record, envelopes, new Set(['Hospital3MSP']))).rejects.toBeInstanceOf(TransactionOutcomeUnknownError);
        expect(writes).toHaveLength(1);
    });
});

describe('FabricLedger on a channel whose chaincode predates PlanRecord and OpenRecord', () => {
    it('falls back to the older evaluations, and asks for the newer ones no more', async () => {
        const asked: string[] = [];
        const resilient = {
            evaluate: async (name: string) => {
                asked.push(name);
                // As fabric-gateway reports it: a generic message, the chaincode's in the endorser's details.
                if (name === 'Records:PlanRecord' || name === 'Access:OpenRecord') {
                    throw Object.assign(new Error('10 ABORTED: failed to evaluate transaction, see attached details for more info'), {
                        code: 10,
                        details: [{ address: 'peer0.hospital1:7051', mspId: 'Hospital1MSP', message: `chaincode response 500, You've asked to invoke a function that does not exist: ${name}` }],
                    });
                }
                if (name === 'Patients:GetPatient') return utf8.encode(JSON.stringify({ patientId: 'Hospital1MSP:p', homeHospital: 'Hospital1MSP', registeredAt: 't' }));
                if (name === 'Records:GetRecord') return utf8.encode(JSON.stringify({ recordId: 'r-1', patientId: 'Hospital1MSP:p', size: 3 }));
                return utf8.encode(JSON.stringify({ envelope: 'env' }));
            },
        };
        const ledger = new FabricLedger({ resilient, network: {} } as unknown as FabricConnection, 'Hospital1MSP');
        const actor = { id: 'dr', role: 'clinician' as const };
        for (let i = 0; i < 2; i++) {
            await expect(ledger.planRecord(actor, 'Hospital1MSP:p', 'r-1', 'lab')).resolves.toMatchObject({ patient: { homeHospital: 'Hospital1MSP' }, grantees: [] });
            await expect(ledger.openRecord(actor, 'r-1', 'treatment')).resolves.toMatchObject({ record: { recordId: 'r-1', ciphertextSize: 3 }, envelope: 'env' });
        }
        expect(asked.filter((n) => n === 'Records:PlanRecord' || n === 'Access:OpenRecord')).toEqual(['Records:PlanRecord', 'Access:OpenRecord']);
    });
});
