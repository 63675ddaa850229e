import { classifyDependencyError, Conflict, DomainError, Forbidden, Gone, Invalid, NotFound, TooLarge, Unavailable } from '../domain-errors.js';
import { codedMessage } from '../fabric/errors.js';
import {
    BadRequestError,
    ConflictError,
    ForbiddenError,
    GoneError,
    NotFoundError,
    PayloadTooLargeError,
    type ProblemError,
    ServiceUnavailableError,
} from './problem.js';

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
    const failure = classifyDependencyError(err);
    if (!failure) return undefined;
    const options = { cause: err };
    switch (failure.kind) {
        case 'refused':
            switch (failure.code) {
                case 'INVALID_ARGUMENT':
                    return new BadRequestError(failure.detail, [], options);
                case 'FORBIDDEN':
                    return new ForbiddenError(failure.detail, options);
                case 'NOT_FOUND':
                    return new NotFoundError(failure.detail, options);
                case 'CONFLICT':
                    return new ConflictError(failure.detail, options);
                case 'GONE':
                    return new GoneError(failure.detail, options);
            }
            return undefined;
        case 'busy':
            // Retried by the gateway already (fabric.retry); the client's own retry is safe.
            return new ServiceUnavailableError('the ledger is busy with concurrent writes to the same data; retry later', retryAfterSeconds, {
                ...options,
                extensions: { dependency: 'fabric', txId: failure.txId },
            });
        case 'unavailable':
            return new ServiceUnavailableError(`${failure.dependency} is unavailable; retry later`, retryAfterSeconds, {
                ...options,
                extensions: { dependency: failure.dependency },
            });
    }
}

/**
 * The problem for an error the services threw in domain terms (domain-errors.ts). Its cause
 * becomes the problem's, so the denial rule still tells a ledger's denial from the gateway's
 * own (the error handler logs the domain error itself).
 */
export function problemFromDomainError(err: DomainError): ProblemError {
    const cause = err.cause === undefined ? {} : { cause: err.cause };
    if (err instanceof Invalid) return new BadRequestError(err.detail, err.errors, cause);
    if (err instanceof Forbidden) {
        return new ForbiddenError(err.detail, { ...cause, rule: err.rule, ...(Object.keys(err.extensions).length ? { extensions: err.extensions } : {}) });
    }
    if (err instanceof NotFound) return new NotFoundError(err.detail, { ...cause, rule: err.rule });
    if (err instanceof Conflict) return new ConflictError(err.detail, cause);
    if (err instanceof Gone) return new GoneError(err.detail, cause);
    if (err instanceof TooLarge) return new PayloadTooLargeError(err.limitBytes, { ...cause, detail: err.detail });
    if (err instanceof Unavailable) {
        return new ServiceUnavailableError(err.detail, err.retryAfterSeconds, { ...cause, extensions: err.extensions });
    }
    throw new TypeError(`no problem for domain error ${err.name}`, { cause: err });
}
