import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { DecryptionError } from '../crypto/errors.js';
import { requestIdOf } from '../observability/request-id.js';
import { problemFromDependencyError } from './dependency-errors.js';
import {
    BadRequestError,
    InternalError,
    NotFoundError,
    PayloadTooLargeError,
    ProblemError,
    UnsupportedMediaTypeError,
    problemBody,
} from './problem.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ErrorHandlerOptions {
    logger: Logger;
    retryAfterSeconds: number;
}

/** Turns anything thrown by a route into a problem+json response. */
export function errorHandler({ logger, retryAfterSeconds }: ErrorHandlerOptions): ErrorRequestHandler {
    return (err: unknown, req, res, _next) => {
        const requestId = requestIdOf(res);
        const problem = toProblem(err, retryAfterSeconds);
        if (problem.status >= 500) {
            logger.error({ err, requestId, status: problem.status }, 'request failed');
        } else {
            logger.debug({ requestId, status: problem.status, problem: problem.type }, 'request rejected');
        }
        if (res.headersSent) {
            // A streamed body has started; the only honest signal left is an aborted response.
            res.destroy(err instanceof Error ? err : undefined);
            return;
        }
        res.status(problem.status);
        for (const [name, value] of Object.entries(problem.headers)) res.setHeader(name, value);
        res.type(PROBLEM_CONTENT_TYPE);
        res.send(JSON.stringify(problemBody(problem, req.baseUrl + req.path, requestId)));
    };
}

/** The catch-all after every route: unknown paths answer 404 problem+json. */
export function notFoundHandler(): RequestHandler {
    return (req, _res, next) => next(new NotFoundError(`no route for ${req.method} ${req.path}`));
}

export function toProblem(err: unknown, retryAfterSeconds: number): ProblemError {
    if (err instanceof ProblemError) return err;
    const bodyParser = bodyParserProblem(err);
    if (bodyParser) return bodyParser;
    if (err instanceof DecryptionError) {
        // The blob or envelope does not match what the ledger promises: an integrity failure, not the client's fault.
        return new InternalError({ cause: err });
    }
    return problemFromDependencyError(err, retryAfterSeconds) ?? new InternalError({ cause: err });
}

function bodyParserProblem(err: unknown): ProblemError | undefined {
    const type = (err as { type?: unknown } | null)?.type;
    switch (type) {
        case 'entity.too.large':
            return new PayloadTooLargeError((err as { limit?: number }).limit ?? 0, { cause: err });
        case 'entity.parse.failed':
            return new BadRequestError('malformed JSON body', [{ field: 'body', message: 'not valid JSON' }], { cause: err });
        case 'encoding.unsupported':
        case 'charset.unsupported':
            return new UnsupportedMediaTypeError((err as Error).message, { cause: err });
        case 'entity.verify.failed':
        case 'request.size.invalid':
        case 'stream.encoding.set':
            return new BadRequestError((err as Error).message, [], { cause: err });
        default:
            return undefined;
    }
}
