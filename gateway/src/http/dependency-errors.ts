import { causeChain, classifyFabricError, codedMessage, TransactionConflictError } from '../fabric/errors.js';
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
    return codedMessage(err);
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
    const conflict = findInChain(err, TransactionConflictError);
    if (conflict) {
        // Retried by the gateway already (fabric.retry); the client's own retry is safe.
        return new ServiceUnavailableError('the ledger is busy with concurrent writes to the same data; retry later', retryAfterSeconds, {
            cause: err,
            extensions: { dependency: 'fabric', txId: conflict.txId },
        });
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
        // A fabric-gateway error that reached here untranslated (fabric/errors.ts).
        const fabric = classifyFabricError(e);
        if (fabric.kind === 'unavailable' || fabric.kind === 'conflict') return 'fabric';
        const code = (e as { code?: unknown } | null)?.code;
        if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return 'ipfs';
        const name = (e as { name?: unknown } | null)?.name;
        if (name === 'TimeoutError') return 'ipfs';
    }
    return undefined;
}

function findInChain<T>(err: unknown, type: new (...args: never[]) => T): T | undefined {
    for (const e of causeChain(err)) if (e instanceof type) return e;
    return undefined;
}
