import { CommitError, GatewayError } from '@hyperledger/fabric-gateway';
import { DependencyUnavailableError } from '../ports.js';
import {
    BadRequestError,
    ConflictError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    type ProblemError,
    ServiceUnavailableError,
} from './problem.js';

const CODED = /\b(INVALID_ARGUMENT|FORBIDDEN|NOT_FOUND|CONFLICT|GONE): ?(.*)$/s;

const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;
/** Fabric TxValidationCode values that a retry resolves. */
const RETRYABLE_VALIDATION_CODES = new Set([11 /* MVCC_READ_CONFLICT */, 12 /* PHANTOM_READ_CONFLICT */]);
const NETWORK_ERROR_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'ETIMEDOUT',
    'EPIPE',
    'EAI_AGAIN',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_SOCKET',
    'UND_ERR_HEADERS_TIMEOUT',
]);

/**
 * The chaincode's coded message, wherever the error carries it: fabric-gateway puts each
 * peer's answer in `details[].message` (e.g. "chaincode response 500, FORBIDDEN: ..."), while
 * the top-level message is generic; adapters may also rethrow the message itself.
 */
export function chaincodeMessage(err: unknown): { code: string; detail: string } | undefined {
    const messages: string[] = [];
    for (const e of causeChain(err)) {
        if (e instanceof GatewayError || hasDetails(e)) {
            for (const d of (e as { details: { message?: unknown }[] }).details) {
                if (typeof d.message === 'string') messages.push(d.message);
            }
        }
        if (e instanceof Error) messages.push(e.message);
    }
    for (const message of messages) {
        const match = CODED.exec(message);
        if (match) return { code: match[1], detail: match[2].trim() };
    }
    return undefined;
}

/**
 * Maps a failure of the ledger or the blob store to the problem the client should see, or
 * `undefined` when it is not one we recognise (the caller then answers 500).
 */
export function problemFromDependencyError(err: unknown, retryAfterSeconds: number): ProblemError | undefined {
    const coded = chaincodeMessage(err);
    if (coded) {
        const options = { cause: err };
        switch (coded.code) {
            case 'INVALID_ARGUMENT':
                return new BadRequestError(coded.detail, [], options);
            case 'FORBIDDEN':
                return new ForbiddenError(coded.detail, options);
            case 'NOT_FOUND':
                return new NotFoundError(coded.detail, options);
            case 'CONFLICT':
                return new ConflictError(coded.detail, options);
            case 'GONE':
                return new GoneError(coded.detail, options);
        }
    }
    const unavailable = unavailableDependency(err);
    if (unavailable) {
        return new ServiceUnavailableError(`${unavailable} is unavailable; retry later`, retryAfterSeconds, {
            cause: err,
            extensions: { dependency: unavailable },
        });
    }
    return undefined;
}

function unavailableDependency(err: unknown): string | undefined {
    for (const e of causeChain(err)) {
        if (e instanceof DependencyUnavailableError) return e.dependency;
        if (e instanceof CommitError && RETRYABLE_VALIDATION_CODES.has(e.code)) return 'fabric';
        if (e instanceof GatewayError || hasDetails(e)) {
            const code = (e as { code?: unknown }).code;
            if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED) return 'fabric';
        }
        const code = (e as { code?: unknown } | null)?.code;
        if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return 'ipfs';
        const name = (e as { name?: unknown } | null)?.name;
        if (name === 'TimeoutError') return 'ipfs';
    }
    return undefined;
}

function hasDetails(e: unknown): boolean {
    return typeof e === 'object' && e !== null && Array.isArray((e as { details?: unknown }).details);
}

function* causeChain(err: unknown): Generator<unknown> {
    const seen = new Set<unknown>();
    for (let e = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
        seen.add(e);
        yield e;
        if (typeof e !== 'object') return;
    }
}
