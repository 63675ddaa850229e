/*
 * Every way a Fabric call fails, translated in one place into what the gateway does about it:
 * the retry logic (fabric/resilient.ts) asks `classifyFabricError` whether to retry, and
 * everything it finally throws is one of the typed errors below (or a chaincode rejection),
 * which http/dependency-errors.ts maps to a status.
 *
 *   chaincode rejection (`FORBIDDEN: ...` etc. in the message or details) → ChaincodeRejectedError  (4xx, never retried)
 *   gRPC UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED / CANCELLED, no orderer, no leader → FabricUnavailableError (503)
 *   endorsement that failed for no coded reason (an endorser down, responses differ) → FabricUnavailableError (503)
 *   commit with MVCC_READ_CONFLICT / PHANTOM_READ_CONFLICT → TransactionConflictError (retried, then 503)
 *   commit with any other validation code → TransactionInvalidError (500: a bug, not a condition)
 *   submitted, but whether it committed could not be learned in time → TransactionOutcomeUnknownError (503)
 */
import { CommitError, CommitStatusError, EndorseError, GatewayError } from '@hyperledger/fabric-gateway';
import { codedError, parseCodedError, type CodedError, type ErrorCode } from '@ehr/ledger-model';
import { DependencyUnavailableError } from '../ports.js';

/** gRPC status codes that Fabric uses for conditions that pass. */
export const GRPC = { CANCELLED: 1, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, UNAVAILABLE: 14 } as const;
/** CANCELLED included: the gateway never cancels its own calls, so it is the peer or the connection that did. */
const TRANSIENT_GRPC_CODES = new Set<number>([GRPC.CANCELLED, GRPC.DEADLINE_EXCEEDED, GRPC.RESOURCE_EXHAUSTED, GRPC.UNAVAILABLE]);

/** Fabric TxValidationCode values. */
export const VALIDATION = { VALID: 0, DUPLICATE_TXID: 9, ENDORSEMENT_POLICY_FAILURE: 10, MVCC_READ_CONFLICT: 11, PHANTOM_READ_CONFLICT: 12 } as const;
const CONFLICT_CODES = new Set<number>([VALIDATION.MVCC_READ_CONFLICT, VALIDATION.PHANTOM_READ_CONFLICT]);

/** The chaincode refused the transaction with a coded message; the same call would be refused again. */
export class ChaincodeRejectedError extends Error {
    readonly code: ErrorCode;
    readonly detail: string;

    constructor(code: ErrorCode, detail: string, options?: ErrorOptions) {
        super(codedError(code, detail), options);
        this.name = 'ChaincodeRejectedError';
        this.code = code;
        this.detail = detail;
    }
}

/** The peer, the endorsers or the ordering service could not be reached or did not answer in time. */
export class FabricUnavailableError extends DependencyUnavailableError {
    constructor(message: string, options?: ErrorOptions) {
        super('fabric', message, options);
        this.name = 'FabricUnavailableError';
    }
}

/** Endorsed and ordered, then marked invalid because a concurrent write changed what it read. Retryable. */
export class TransactionConflictError extends Error {
    readonly txId: string;
    readonly validationCode: number;

    constructor(txId: string, validationCode: number, options?: ErrorOptions) {
        super(`transaction ${txId} conflicted with a concurrent write (validation code ${validationCode})`, options);
        this.name = 'TransactionConflictError';
        this.txId = txId;
        this.validationCode = validationCode;
    }
}

/** Endorsed and ordered, then marked invalid for a reason a retry does not cure (e.g. ENDORSEMENT_POLICY_FAILURE). */
export class TransactionInvalidError extends Error {
    readonly txId: string;
    readonly validationCode: number;

    constructor(txId: string, validationCode: number, options?: ErrorOptions) {
        super(`transaction ${txId} was not committed: validation code ${validationCode}`, options);
        this.name = 'TransactionInvalidError';
        this.txId = txId;
        this.validationCode = validationCode;
    }
}

/** The transaction was handed to the ordering service but whether it committed was not learned in time. */
export class TransactionOutcomeUnknownError extends FabricUnavailableError {
    readonly txIds: string[];

    constructor(txIds: string[], options?: ErrorOptions) {
        super(`the ordering service did not confirm transaction ${txIds.join(', ')} in time`, options);
        this.name = 'TransactionOutcomeUnknownError';
        this.txIds = txIds;
    }
}

export type FabricFailure =
    /** A coded chaincode refusal: final. */
    | { kind: 'rejected'; code: ErrorCode; detail: string }
    /** A node down or slow, no Raft leader, an endorsement that failed without a chaincode reason: retry. */
    | { kind: 'unavailable'; step: 'endorse' | 'submit' | 'commit-status' | 'evaluate' | 'other'; grpcCode?: number }
    /** An MVCC or phantom read conflict at commit: endorse again. */
    | { kind: 'conflict'; txId: string; validationCode: number }
    /** Any other invalid commit: final. */
    | { kind: 'invalid'; txId: string; validationCode: number }
    /** Not a Fabric failure we know. */
    | { kind: 'unknown' };

/**
 * The chaincode's coded message, wherever a fabric-gateway error (or its causes) carries it:
 * the one place the gateway reads chaincode refusals (with @ehr/ledger-model's parser).
 */
export function codedMessage(err: unknown): CodedError | undefined {
    for (const e of causeChain(err)) {
        if (e instanceof ChaincodeRejectedError) return { code: e.code, detail: e.detail };
    }
    for (const message of errorMessages(err)) {
        const coded = parseCodedError(message);
        if (coded) return coded;
    }
    return undefined;
}

/**
 * Every message an error carries, its causes' and the endorsers' (fabric-gateway puts what
 * the chaincode said in `details`, under a generic message of its own).
 */
export function errorMessages(err: unknown): string[] {
    const messages: string[] = [];
    for (const e of causeChain(err)) {
        const details = (e as { details?: unknown } | null)?.details;
        if (Array.isArray(details)) {
            for (const d of details as { message?: unknown }[]) if (typeof d?.message === 'string') messages.push(d.message);
        }
        if (e instanceof Error) messages.push(e.message);
    }
    return messages;
}

/** What kind of failure `err` is, for the retry logic. */
export function classifyFabricError(err: unknown): FabricFailure {
    const coded = codedMessage(err);
    if (coded) return { kind: 'rejected', ...coded };
    for (const e of causeChain(err)) {
        if (e instanceof TransactionConflictError) return { kind: 'conflict', txId: e.txId, validationCode: e.validationCode };
        if (e instanceof TransactionInvalidError) return { kind: 'invalid', txId: e.txId, validationCode: e.validationCode };
        if (e instanceof CommitError) {
            return CONFLICT_CODES.has(e.code)
                ? { kind: 'conflict', txId: e.transactionId, validationCode: e.code }
                : { kind: 'invalid', txId: e.transactionId, validationCode: e.code };
        }
        if (e instanceof DependencyUnavailableError) return { kind: 'unavailable', step: 'other' };
        if (e instanceof GatewayError) {
            const step =
                e instanceof EndorseError ? 'endorse' : e.name === 'SubmitError' ? 'submit' : e instanceof CommitStatusError ? 'commit-status' : 'evaluate';
            if (TRANSIENT_GRPC_CODES.has(e.code)) return { kind: 'unavailable', step, grpcCode: e.code };
            // The peer's gateway answers ABORTED when it could not collect enough endorsements
            // (an endorser down, or endorsers that disagree); with no chaincode code in the
            // details, another try (another plan) may succeed. From Submit, ABORTED means the
            // orderer refused the envelope (4xx): final.
            if (e.code === GRPC.ABORTED && step === 'endorse') return { kind: 'unavailable', step, grpcCode: e.code };
            // An orderer added to the channel that has not joined it yet (add-hospital publishes
            // its endpoint in the config update it then joins with) refuses with "channel does
            // not exist"; the same envelope handed over again reaches another orderer.
            if (e.code === GRPC.ABORTED && step === 'submit' && errorMessages(e).some((m) => m.includes('channel does not exist'))) {
                return { kind: 'unavailable', step, grpcCode: e.code };
            }
            return { kind: 'unknown' };
        }
        // A bare gRPC ServiceError (metadata), or an error shaped like fabric-gateway's (details).
        const g = e as { code?: unknown; metadata?: unknown; details?: unknown } | null;
        if (typeof g?.code === 'number' && TRANSIENT_GRPC_CODES.has(g.code) && (typeof g.metadata === 'object' || Array.isArray(g.details))) {
            return { kind: 'unavailable', step: 'other', grpcCode: g.code };
        }
    }
    return { kind: 'unknown' };
}

export function isRetryable(failure: FabricFailure): boolean {
    return failure.kind === 'unavailable' || failure.kind === 'conflict';
}

/**
 * The typed error the gateway throws for a Fabric failure; the original stays as `cause`
 * (its details name the nodes involved). Errors that are not Fabric's pass unchanged.
 */
export function translateFabricError(err: unknown): unknown {
    if (
        err instanceof ChaincodeRejectedError ||
        err instanceof FabricUnavailableError ||
        err instanceof TransactionConflictError ||
        err instanceof TransactionInvalidError
    ) {
        return err;
    }
    const f = classifyFabricError(err);
    switch (f.kind) {
        case 'rejected':
            return new ChaincodeRejectedError(f.code, f.detail, { cause: err });
        case 'unavailable':
            return new FabricUnavailableError(unavailableMessage(f.step), { cause: err });
        case 'conflict':
            return new TransactionConflictError(f.txId, f.validationCode, { cause: err });
        case 'invalid':
            return new TransactionInvalidError(f.txId, f.validationCode, { cause: err });
        case 'unknown':
            return err;
    }
}

function unavailableMessage(step: string): string {
    switch (step) {
        case 'endorse':
            return 'not enough endorsing peers answered';
        case 'submit':
            return 'no orderer accepted the transaction';
        case 'commit-status':
            return 'the peer did not report the commit in time';
        default:
            return 'the peer did not answer';
    }
}

/** The error and its causes, outermost first (cycles cut). */
export function* causeChain(err: unknown): Generator<unknown> {
    const seen = new Set<unknown>();
    for (let e = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
        seen.add(e);
        yield e;
        if (typeof e !== 'object') return;
    }
}
