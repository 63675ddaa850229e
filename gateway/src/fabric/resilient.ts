/*
 * Writes that fail over. A write is endorsed, handed to the ordering service, and waited for;
 * each step can meet a node that just died:
 *
 *  - endorsement fails without a chaincode reason (an endorser down, no plan satisfiable yet):
 *    endorse again, with the next endorsement plan when the caller names several. Nothing was
 *    sent to the orderers, so this is always safe.
 *  - no orderer accepts the envelope (the one asked is down, or there is no Raft leader during
 *    an election): hand the *same signed envelope* over again. Its transaction ID is fixed, and
 *    a peer commits a transaction ID at most once (a second copy is marked DUPLICATE_TXID), so
 *    resubmitting can never write twice.
 *  - the commit is not reported within `commitWaitMs` (the transaction may have been in the
 *    batch of a leader that died): ask the peer's ledger whether the transaction ID is there
 *    (qscc GetTransactionByID); if it is not, resubmit the same envelope and wait again.
 *  - the commit is invalid with an MVCC or phantom read conflict: endorse again (a new
 *    transaction ID; the first one is known to have written nothing).
 *
 * Each retry waits a bounded, jittered exponential backoff; the write gives up after
 * `maxAttempts` failures or `budgetMs`, whichever comes first. A coded chaincode refusal is final,
 * except that a later try refused with CONFLICT or GONE ("already exists", "already revoked")
 * first checks whether one of its own earlier transactions committed after all: if so, that one
 * is the answer. Everything thrown is translated by fabric/errors.ts.
 */
import type { Commit, Contract, Transaction } from '@hyperledger/fabric-gateway';
import {
    ChaincodeRejectedError,
    classifyFabricError,
    GRPC,
    isRetryable,
    TransactionConflictError,
    TransactionInvalidError,
    TransactionOutcomeUnknownError,
    translateFabricError,
    VALIDATION,
} from './errors.js';

export interface RetryPolicy {
    /** Failed steps (endorsements, submissions, commit waits) tolerated per call before giving up. */
    maxAttempts: number;
    /** First backoff between tries; doubles per failure up to `maxBackoffMs` (with jitter). */
    initialBackoffMs: number;
    maxBackoffMs: number;
    /** The longest a write (or read) may take, retries included, before the client is answered 503. */
    budgetMs: number;
    /** How long to wait for a commit before checking whether the transaction was lost and resubmitting it. */
    commitWaitMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
    maxAttempts: 10,
    initialBackoffMs: 100,
    maxBackoffMs: 2_000,
    budgetMs: 30_000,
    commitWaitMs: 3_000,
};

/** The validation code of a transaction in the peer's ledger, or `undefined` when it is not (yet) there. */
export type TransactionLookup = (txId: string) => Promise<number | undefined>;

export interface RetryEvent {
    transaction: string;
    txId?: string;
    attempt: number;
    reason: string;
    delayMs: number;
}

export interface ResilienceHooks {
    onRetry?: (event: RetryEvent) => void;
    sleep?: (ms: number) => Promise<void>;
    now?: () => number;
    random?: () => number;
}

export interface WriteOptions {
    transientData?: Record<string, Uint8Array>;
    /** Endorsing organisations to name, tried in turn when one set fails to endorse. */
    endorsementPlans?: string[][];
    /**
     * A failed endorsement is thrown at once rather than retried: for a caller that has a
     * cheaper fallback than waiting (a store whose optional envelopes name a hospital that
     * is down). Nothing was handed to the orderers then, so the fallback cannot write twice.
     */
    failFastEndorsement?: boolean;
}

export interface Written {
    result: Uint8Array;
    txId: string;
    /** Failed steps before success (0: first try). */
    retries: number;
}

interface Endorsed {
    txId: string;
    result: Uint8Array;
}

/** Thrown inside a call when its attempts or its budget are used up. */
class Exhausted extends Error {
    constructor(readonly last: unknown) {
        super('retries exhausted');
    }
}

export class ResilientContract {
    readonly #contract: Contract;
    readonly #lookup: TransactionLookup;
    readonly #policy: RetryPolicy;
    readonly #onRetry: (event: RetryEvent) => void;
    readonly #sleep: (ms: number) => Promise<void>;
    readonly #now: () => number;
    readonly #random: () => number;

    constructor(contract: Contract, lookup: TransactionLookup, policy: RetryPolicy = DEFAULT_RETRY_POLICY, hooks: ResilienceHooks = {}) {
        this.#contract = contract;
        this.#lookup = lookup;
        this.#policy = policy;
        this.#onRetry = hooks.onRetry ?? (() => undefined);
        this.#sleep = hooks.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
        this.#now = hooks.now ?? Date.now;
        this.#random = hooks.random ?? Math.random;
    }

    get policy(): RetryPolicy {
        return this.#policy;
    }

    /** A query on the hospital's own peer, retried while the peer is unreachable. */
    async evaluate(name: string, args: string[]): Promise<Uint8Array> {
        const retry = this.#retrier(name);
        for (;;) {
            try {
                return await this.#contract.evaluate(name, { arguments: args });
            } catch (err) {
                const failure = classifyFabricError(err);
                if (failure.kind !== 'unavailable') throw translateFabricError(err);
                try {
                    await retry(err);
                } catch (e) {
                    throw translateFabricError(e instanceof Exhausted ? e.last : e);
                }
            }
        }
    }

    /** Endorses, orders and waits for the commit, failing over as described above: resolving means "on the ledger". */
    async submit(name: string, args: string[], options: WriteOptions = {}): Promise<Written> {
        const retry = this.#retrier(name);
        /** Every transaction handed to the ordering service so far; any of them may have committed. */
        const handedOver: Endorsed[] = [];
        let plan = 0;
        try {
            for (;;) {
                let tx: Transaction;
                try {
                    const plans = options.endorsementPlans;
                    tx = await this.#contract
                        .newProposal(name, {
                            arguments: args,
                            ...(options.transientData ? { transientData: options.transientData } : {}),
                            ...(plans?.length ? { endorsingOrganizations: plans[plan % plans.length] } : {}),
                        })
                        .endorse();
                } catch (err) {
                    const failure = classifyFabricError(err);
                    if (failure.kind === 'rejected' && handedOver.length > 0 && (failure.code === 'CONFLICT' || failure.code === 'GONE')) {
                        // "Already exists / revoked / erased": perhaps by our own earlier try.
                        const ours = await this.#committedAmong(handedOver);
                        if (ours) return { ...ours, retries: retry.count() };
                    }
                    if (!isRetryable(failure) || options.failFastEndorsement) throw translateFabricError(err);
                    plan++;
                    await retry(err);
                    continue;
                }
                const outcome = await this.#order(tx, retry, handedOver);
                if (outcome === 'committed') {
                    return { result: tx.getResult(), txId: tx.getTransactionId(), retries: retry.count() };
                }
                await retry(outcome); // a read conflict: endorse afresh
            }
        } catch (err) {
            if (!(err instanceof Exhausted)) throw err;
            // Out of tries: one last look whether something we handed over committed meanwhile.
            const ours = handedOver.length ? await this.#committedAmong(handedOver) : undefined;
            if (ours) return { ...ours, retries: retry.count() };
            const last = translateFabricError(err.last);
            const final = last instanceof ChaincodeRejectedError || last instanceof TransactionConflictError || last instanceof TransactionInvalidError;
            if (handedOver.length > 0 && !final) {
                throw new TransactionOutcomeUnknownError(
                    handedOver.map((t) => t.txId),
                    { cause: err.last },
                );
            }
            throw last;
        }
    }

    /**
     * Hands one endorsed transaction to the ordering service until its outcome is known:
     * 'committed', or the conflict that calls for a new endorsement. Other outcomes throw.
     */
    async #order(
        tx: Transaction,
        retry: Retrier,
        handedOver: Endorsed[],
    ): Promise<'committed' | TransactionConflictError> {
        const txId = tx.getTransactionId();
        const mark = () => {
            if (!handedOver.some((t) => t.txId === txId)) handedOver.push({ txId, result: tx.getResult() });
        };
        for (;;) {
            let commit: Commit;
            try {
                commit = await tx.submit();
            } catch (err) {
                const failure = classifyFabricError(err);
                if (failure.kind !== 'unavailable') throw translateFabricError(err);
                mark(); // an orderer may have taken it before the answer was lost
                await retry(err, txId);
                continue;
            }
            mark();
            let code: number | undefined;
            try {
                const wait = Math.max(1, Math.min(this.#policy.commitWaitMs, retry.remaining()));
                code = (await commit.getStatus({ deadline: this.#now() + wait })).code;
            } catch (err) {
                // However the status call failed, the ledger knows; resubmitting is safe either way.
                const failure = classifyFabricError(err);
                if (failure.kind === 'rejected') throw translateFabricError(err);
                code = await this.#lookupQuietly(txId);
                if (code === undefined) {
                    // Lost with a dead leader's batch, or not at our peer yet: the same envelope again.
                    const waited = failure.kind === 'unavailable' && failure.grpcCode === GRPC.DEADLINE_EXCEEDED;
                    await retry(err, txId, waited ? 0 : undefined);
                    continue;
                }
            }
            if (code === VALIDATION.DUPLICATE_TXID) {
                // Our own resubmission was the duplicate: the first copy's status is the one that counts.
                code = (await this.#lookupQuietly(txId)) ?? code;
            }
            if (code === VALIDATION.VALID) return 'committed';
            if (code === VALIDATION.MVCC_READ_CONFLICT || code === VALIDATION.PHANTOM_READ_CONFLICT) {
                return new TransactionConflictError(txId, code);
            }
            throw new TransactionInvalidError(txId, code);
        }
    }

    async #committedAmong(candidates: Endorsed[]): Promise<{ result: Uint8Array; txId: string } | undefined> {
        for (const c of candidates) {
            if ((await this.#lookupQuietly(c.txId)) === VALIDATION.VALID) return { result: c.result, txId: c.txId };
        }
        return undefined;
    }

    async #lookupQuietly(txId: string): Promise<number | undefined> {
        try {
            return await this.#lookup(txId);
        } catch {
            return undefined;
        }
    }

    /** Counts failures of one call and sleeps its backoff, or throws Exhausted when out of attempts or time. */
    #retrier(transaction: string): Retrier {
        const p = this.#policy;
        const deadline = this.#now() + p.budgetMs;
        let failures = 0;
        const retry = (async (err: unknown, txId?: string, delayOverride?: number) => {
            failures++;
            const base = Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** (failures - 1));
            const delay = delayOverride ?? Math.round(base / 2 + (this.#random() * base) / 2);
            if (failures >= p.maxAttempts || this.#now() + delay >= deadline) throw new Exhausted(err);
            this.#onRetry({ transaction, txId, attempt: failures, reason: reasonOf(err), delayMs: delay });
            if (delay > 0) await this.#sleep(delay);
        }) as Retrier;
        retry.count = () => failures;
        retry.remaining = () => deadline - this.#now();
        return retry;
    }
}

interface Retrier {
    (err: unknown, txId?: string, delayOverride?: number): Promise<void>;
    count(): number;
    remaining(): number;
}

function reasonOf(err: unknown): string {
    const f = classifyFabricError(err);
    switch (f.kind) {
        case 'conflict':
            return `read conflict (validation code ${f.validationCode})`;
        case 'unavailable':
            return `${f.step} unavailable${f.grpcCode !== undefined ? ` (gRPC ${f.grpcCode})` : ''}`;
        default:
            return (err as Error)?.message ?? String(err);
    }
}
