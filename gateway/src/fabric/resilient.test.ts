import { status as grpcStatus, Metadata } from '@grpc/grpc-js';
import { CommitStatusError, EndorseError, GatewayError, type Contract } from '@hyperledger/fabric-gateway';
import {
    ChaincodeRejectedError,
    FabricUnavailableError,
    TransactionConflictError,
    TransactionInvalidError,
    TransactionOutcomeUnknownError,
} from './errors.js';
import { ResilientContract, type RetryPolicy, type RetryEvent } from './resilient.js';

const utf8 = new TextEncoder();
const text = new TextDecoder();

function serviceError(code: number) {
    return Object.assign(new Error(`${code} grpc`), { code, details: 'x', metadata: new Metadata() });
}
const endorseError = (code: number, message = 'connection refused') =>
    new EndorseError({ code, details: [{ address: 'p', mspId: 'M', message }], cause: serviceError(code), transactionId: '?', message });
const submitError = (code: number, message = 'no orderers could successfully process transaction') =>
    Object.assign(new GatewayError({ code, details: [], cause: serviceError(code), message }), { name: 'SubmitError' });
const waitedTooLong = () =>
    new CommitStatusError({ code: grpcStatus.DEADLINE_EXCEEDED, details: [], cause: serviceError(4), transactionId: '?', message: 'deadline' });

type Step = 'ok' | Error;
/** A commit status: a validation code, or an error the status call throws. */
type StatusStep = number | Error;

/**
 * A contract whose endorsements, submissions and commit statuses follow scripts (default:
 * success), and a ledger (`committed`, txId → validation code) that the lookup reads.
 */
function scripted(script: { endorse?: Step[]; submit?: Step[]; status?: StatusStep[]; evaluate?: (Error | string)[] } = {}) {
    const endorse = [...(script.endorse ?? [])];
    const submit = [...(script.submit ?? [])];
    const status = [...(script.status ?? [])];
    const evaluate = [...(script.evaluate ?? [])];
    const log = {
        endorsements: [] as { txId?: string; orgs?: string[]; args: string[] }[],
        submissions: [] as string[],
        statusDeadlines: [] as number[],
        lookups: [] as string[],
    };
    const committed = new Map<string, number>();
    let n = 0;
    const contract = {
        evaluate: async () => {
            const next = evaluate.shift() ?? '"ok"';
            if (next instanceof Error) throw next;
            return utf8.encode(next);
        },
        newProposal: (_name: string, options: { arguments: string[]; endorsingOrganizations?: string[] }) => ({
            endorse: async () => {
                const next = endorse.shift() ?? 'ok';
                log.endorsements.push({ orgs: options.endorsingOrganizations, args: options.arguments });
                if (next instanceof Error) throw next;
                const txId = `tx-${++n}`;
                log.endorsements[log.endorsements.length - 1].txId = txId;
                return {
                    getTransactionId: () => txId,
                    getResult: () => utf8.encode(JSON.stringify({ from: txId })),
                    submit: async () => {
                        const s = submit.shift() ?? 'ok';
                        log.submissions.push(txId);
                        if (s instanceof Error) throw s;
                        return {
                            getTransactionId: () => txId,
                            getStatus: async (o: { deadline: number }) => {
                                log.statusDeadlines.push(o.deadline);
                                const code = status.shift() ?? 0;
                                if (code instanceof Error) throw code;
                                if (!committed.has(txId)) committed.set(txId, code);
                                return { code, successful: code === 0, transactionId: txId, blockNumber: 1n };
                            },
                        };
                    },
                };
            },
        }),
    } as unknown as Contract;
    const lookup = async (txId: string) => {
        log.lookups.push(txId);
        return committed.get(txId);
    };
    return { contract, lookup, log, committed };
}

const policy: RetryPolicy = { maxAttempts: 6, initialBackoffMs: 100, maxBackoffMs: 1_000, budgetMs: 30_000, commitWaitMs: 3_000 };

/** A ResilientContract on a fake clock: sleeping advances time, nothing really waits. */
function resilient(fake: ReturnType<typeof scripted>, p: RetryPolicy = policy) {
    let clock = 1_000_000;
    const sleeps: number[] = [];
    const retries: RetryEvent[] = [];
    const rc = new ResilientContract(fake.contract, fake.lookup, p, {
        now: () => clock,
        sleep: async (ms) => {
            sleeps.push(ms);
            clock += ms;
        },
        random: () => 0.5,
        onRetry: (e) => retries.push(e),
    });
    return { rc, sleeps, retries, advance: (ms: number) => (clock += ms), now: () => clock };
}

describe('ResilientContract.submit', () => {
    it('commits at the first try without waiting', async () => {
        const fake = scripted();
        const { rc, sleeps } = resilient(fake);
        const written = await rc.submit('Records:CreateRecord', ['r1']);
        expect(written).toMatchObject({ txId: 'tx-1', retries: 0 });
        expect(text.decode(written.result)).toBe('{"from":"tx-1"}');
        expect(sleeps).toEqual([]);
        expect(fake.log.statusDeadlines[0] - 1_000_000).toBe(3_000);
    });

    it('endorses again, with bounded exponential backoff, while endorsers are unreachable', async () => {
        const fake = scripted({ endorse: [endorseError(grpcStatus.UNAVAILABLE), endorseError(grpcStatus.DEADLINE_EXCEEDED), endorseError(grpcStatus.ABORTED)] });
        const { rc, sleeps, retries } = resilient(fake);
        await expect(rc.submit('Patients:RegisterPatient', ['p1'])).resolves.toMatchObject({ txId: 'tx-1', retries: 3 });
        // base 100, 200, 400 with jitter at its middle (75%)
        expect(sleeps).toEqual([75, 150, 300]);
        expect(retries.map((r) => r.reason)).toEqual(['endorse unavailable (gRPC 14)', 'endorse unavailable (gRPC 4)', 'endorse unavailable (gRPC 10)']);
        expect(fake.log.submissions).toEqual(['tx-1']);
    });

    it('caps the backoff at maxBackoffMs', async () => {
        const fake = scripted({ endorse: Array.from({ length: 5 }, () => endorseError(grpcStatus.UNAVAILABLE)) });
        const { rc, sleeps } = resilient(fake, { ...policy, maxAttempts: 10 });
        await rc.submit('X', []);
        expect(sleeps).toEqual([75, 150, 300, 600, 750]);
    });

    it('moves to the next endorsement plan when one fails to endorse', async () => {
        const fake = scripted({ endorse: [endorseError(grpcStatus.ABORTED)] });
        const { rc } = resilient(fake);
        const plans = [['H1', 'H2'], ['H1', 'H3']];
        await rc.submit('Records:CreateRecord', ['r1'], { endorsementPlans: plans, transientData: { envelopes: utf8.encode('{}') } });
        expect(fake.log.endorsements.map((e) => e.orgs)).toEqual(plans);
    });

    it('does not retry a chaincode refusal', async () => {
        const fake = scripted({ endorse: [endorseError(grpcStatus.ABORTED, 'chaincode response 500, FORBIDDEN: no consent')] });
        const { rc, sleeps } = resilient(fake);
        const err = await rc.submit('X', []).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ChaincodeRejectedError);
        expect(err).toMatchObject({ code: 'FORBIDDEN', detail: 'no consent' });
        expect(sleeps).toEqual([]);
        expect(fake.log.endorsements).toHaveLength(1);
    });

    it('hands the same signed transaction over again while no orderer accepts it (e.g. during a Raft election)', async () => {
        const fake = scripted({ submit: [submitError(grpcStatus.UNAVAILABLE), submitError(grpcStatus.UNAVAILABLE)] });
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).resolves.toMatchObject({ txId: 'tx-1', retries: 2 });
        expect(fake.log.endorsements).toHaveLength(1);
        expect(fake.log.submissions).toEqual(['tx-1', 'tx-1', 'tx-1']);
    });

    it('hands it over again when the orderer asked has not joined the channel yet (a hospital joining)', async () => {
        const fake = scripted({ submit: [submitError(grpcStatus.ABORTED, 'received unsuccessful response from orderer: status=BAD_REQUEST, info=channel does not exist')] });
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).resolves.toMatchObject({ txId: 'tx-1', retries: 1 });
        expect(fake.log.endorsements).toHaveLength(1);
        expect(fake.log.submissions).toEqual(['tx-1', 'tx-1']);
    });

    it('does not resubmit what an orderer refused', async () => {
        const fake = scripted({ submit: [submitError(grpcStatus.ABORTED, 'status=FORBIDDEN')] });
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).rejects.toThrow(/status=FORBIDDEN/);
        expect(fake.log.submissions).toEqual(['tx-1']);
    });

    it('resubmits the same transaction when it was lost with a dead leader: the commit wait ends, the ledger does not have it', async () => {
        const fake = scripted({ status: [waitedTooLong()] });
        const { rc, retries, sleeps } = resilient(fake);
        await expect(rc.submit('Records:CreateRecord', ['r1'])).resolves.toMatchObject({ txId: 'tx-1', retries: 1 });
        expect(fake.log.lookups).toEqual(['tx-1']);
        expect(fake.log.submissions).toEqual(['tx-1', 'tx-1']);
        expect(fake.log.endorsements).toHaveLength(1);
        expect(sleeps).toEqual([]); // the commit wait was the wait
        expect(retries[0]).toMatchObject({ txId: 'tx-1', reason: 'commit-status unavailable (gRPC 4)' });
    });

    it('asks the ledger and resubmits when the status call fails some other way (e.g. CANCELLED by the peer)', async () => {
        const cancelled = new CommitStatusError({ code: grpcStatus.CANCELLED, details: [], cause: serviceError(1), transactionId: '?', message: 'cancelled' });
        const internal = new CommitStatusError({ code: grpcStatus.INTERNAL, details: [], cause: serviceError(13), transactionId: '?', message: 'internal' });
        const fake = scripted({ status: [cancelled, internal] });
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).resolves.toMatchObject({ txId: 'tx-1', retries: 2 });
        expect(fake.log.submissions).toEqual(['tx-1', 'tx-1', 'tx-1']);
        expect(fake.log.endorsements).toHaveLength(1);
    });

    it('does not resubmit when the ledger has the transaction after all', async () => {
        const fake = scripted({ status: [waitedTooLong()] });
        fake.committed.set('tx-1', 0);
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).resolves.toMatchObject({ txId: 'tx-1' });
        expect(fake.log.submissions).toEqual(['tx-1']);
    });

    it('reads the first copy when its own resubmission is reported as the duplicate', async () => {
        const fake = scripted({ status: [9] });
        fake.committed.set('tx-1', 0);
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).resolves.toMatchObject({ txId: 'tx-1' });
    });

    it('endorses afresh after an MVCC read conflict', async () => {
        const fake = scripted({ status: [11, 12] });
        const { rc, retries } = resilient(fake);
        await expect(rc.submit('Consents:RevokeConsent', ['c1'])).resolves.toMatchObject({ txId: 'tx-3', retries: 2 });
        expect(fake.log.endorsements.map((e) => e.args)).toEqual([['c1'], ['c1'], ['c1']]);
        expect(retries.map((r) => r.reason)).toEqual(['read conflict (validation code 11)', 'read conflict (validation code 12)']);
    });

    it('gives up on a conflict that persists with a retryable TransactionConflictError', async () => {
        const fake = scripted({ status: Array.from({ length: 10 }, () => 11) });
        const { rc } = resilient(fake);
        const err = await rc.submit('X', []).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TransactionConflictError);
        expect(fake.log.endorsements).toHaveLength(policy.maxAttempts);
    });

    it('fails at once on an invalid commit a retry does not cure', async () => {
        const fake = scripted({ status: [10] });
        const { rc } = resilient(fake);
        await expect(rc.submit('X', [])).rejects.toBeInstanceOf(TransactionInvalidError);
        expect(fake.log.endorsements).toHaveLength(1);
    });

    it('treats a refusal as success when its own earlier transaction committed ("already exists" by itself)', async () => {
        // tx-1 is reported conflicting but the ledger holds it valid (as when a status came from the wrong copy);
        // the fresh endorsement then finds the record already there.
        const fake = scripted({
            status: [11],
            endorse: ['ok', endorseError(grpcStatus.ABORTED, 'chaincode response 500, CONFLICT: record r1 already exists')],
        });
        const { rc } = resilient(fake);
        const written = rc.submit('Records:CreateRecord', ['r1']);
        fake.committed.set('tx-1', 0);
        await expect(written).resolves.toMatchObject({ txId: 'tx-1' });
        expect(text.decode((await written).result)).toBe('{"from":"tx-1"}');
    });

    it('still refuses CONFLICT when none of its own transactions committed', async () => {
        const fake = scripted({
            status: [11],
            endorse: ['ok', endorseError(grpcStatus.ABORTED, 'chaincode response 500, CONFLICT: record r1 already exists')],
        });
        const { rc } = resilient(fake);
        await expect(rc.submit('Records:CreateRecord', ['r1'])).rejects.toBeInstanceOf(ChaincodeRejectedError);
    });

    it('answers "unavailable, outcome unknown" when the budget runs out after handing a transaction over', async () => {
        const fake = scripted({ status: Array.from({ length: 20 }, () => waitedTooLong()) });
        const { rc } = resilient(fake);
        const err = await rc.submit('X', []).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TransactionOutcomeUnknownError);
        expect(err).toBeInstanceOf(FabricUnavailableError);
        expect(fake.log.submissions).toEqual(Array.from({ length: policy.maxAttempts }, () => 'tx-1'));
    });

    it('finds a late commit at the last look before giving up', async () => {
        const fake = scripted({ status: Array.from({ length: 10 }, () => waitedTooLong()) });
        let calls = 0;
        // Not there at any of the maxAttempts checks after a commit wait; there at the final one.
        const lookup = async () => (++calls > policy.maxAttempts ? 0 : undefined);
        const rc = new ResilientContract(fake.contract, lookup, policy, { sleep: async () => undefined });
        await expect(rc.submit('X', [])).resolves.toMatchObject({ txId: 'tx-1', retries: policy.maxAttempts });
        expect(calls).toBe(policy.maxAttempts + 1);
    });

    it('stops after the time budget, counting the backoff it would sleep', async () => {
        const fake = scripted({ endorse: Array.from({ length: 50 }, () => endorseError(grpcStatus.UNAVAILABLE)) });
        const { rc, sleeps, now } = resilient(fake, { ...policy, maxAttempts: 100, budgetMs: 5_000 });
        const start = now();
        await expect(rc.submit('X', [])).rejects.toBeInstanceOf(FabricUnavailableError);
        expect(now() - start).toBeLessThanOrEqual(5_000);
        expect(sleeps.length).toBeGreaterThan(3);
    });
});

describe('ResilientContract.evaluate', () => {
    it('retries a query while the peer is unreachable', async () => {
        const fake = scripted({ evaluate: [new GatewayError({ code: 14, details: [], cause: serviceError(14), message: 'down' }), '"fine"'] });
        const { rc } = resilient(fake);
        expect(text.decode(await rc.evaluate('X', []))).toBe('"fine"');
    });

    it('does not retry a refusal, and translates it', async () => {
        const fake = scripted({ evaluate: [new GatewayError({ code: 2, details: [{ address: 'p', mspId: 'M', message: 'NOT_FOUND: record r' }], cause: serviceError(2), message: 'evaluate' })] });
        const { rc, sleeps } = resilient(fake);
        await expect(rc.evaluate('X', [])).rejects.toMatchObject({ name: 'ChaincodeRejectedError', code: 'NOT_FOUND' });
        expect(sleeps).toEqual([]);
    });
});
