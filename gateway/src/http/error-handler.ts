import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { Actor } from '../domain.js';
import { DecryptionError } from '../crypto/errors.js';
import type { Metrics } from '../observability/metrics.js';
import { requestIdOf } from '../observability/request-id.js';
import { DomainError } from '../domain-errors.js';
import { chaincodeMessage, problemFromDependencyError, problemFromDomainError } from './dependency-errors.js';
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
    /** Counts denials in ehr_denied_requests_total when given. */
    metrics?: Metrics;
    /** This gateway's hospital (MSP ID), logged with every denial. */
    hospital?: string;
}

/** The statuses that deny a caller (rather than reject its input or fail): each is logged and counted with its rule. */
export const DENIAL_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 415, 429]);

/** Turns anything thrown by a route into a problem+json response. */
export function errorHandler({ logger, retryAfterSeconds, metrics, hospital }: ErrorHandlerOptions): ErrorRequestHandler {
    return (err: unknown, req, res, _next) => {
        const requestId = requestIdOf(res);
        const problem = toProblem(err, retryAfterSeconds);
        if (problem.status >= 500) {
            logger.error({ err, requestId, status: problem.status }, 'request failed');
        } else if (DENIAL_STATUSES.has(problem.status)) {
            const rule = denialRule(problem);
            metrics?.deniedRequests.inc({ rule, status: String(problem.status) });
            // Attributable, and free of PHI: the route template (never the path, which holds
            // patient IDs), the rule, the actor's pseudonym and role; never the detail or the body.
            const actor = res.locals.actor as Actor | undefined;
            const level = problem.status === 404 || problem.status === 415 ? 'info' : 'warn';
            logger[level](
                {
                    requestId,
                    status: problem.status,
                    rule,
                    hospital,
                    sub: actor?.id,
                    role: actor?.role,
                    // Before a token is accepted, the address is all there is to attribute.
                    ...(actor ? {} : { address: req.ip }),
                    method: req.method,
                    route: routeOf(req),
                },
                'request denied',
            );
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

/**
 * The short ID of the rule that denied a request: the one its thrower named, else one told by
 * where it came from: the chaincode (`ledger.*`: its FORBIDDEN, or its NOT_FOUND, which is also
 * what a hospital without a basis is told) or the gateway's own checks (`gateway.*`).
 */
export function denialRule(problem: ProblemError): string {
    if (problem.rule) return problem.rule;
    const fromLedger = chaincodeMessage(problem.cause) !== undefined;
    switch (problem.status) {
        case 401:
            return 'token.invalid';
        case 403:
            return fromLedger ? 'ledger.forbidden' : 'gateway.forbidden';
        case 404:
            return fromLedger ? 'ledger.not-found' : 'gateway.not-found';
        case 415:
            return 'media-type';
        case 429:
            return 'rate-limit';
        default:
            return `status-${problem.status}`;
    }
}

/** The route template (`/api/v1/records/:recordId`), or `unmatched`: never the concrete path. */
function routeOf(req: Request): string {
    return req.route ? req.baseUrl + String((req.route as { path: unknown }).path) : 'unmatched';
}

/** The catch-all after every route: unknown paths answer 404 problem+json. */
export function notFoundHandler(): RequestHandler {
    return (req, _res: Response, next) => next(new NotFoundError(`no route for ${req.method} ${req.path}`, { rule: 'route' }));
}

export function toProblem(err: unknown, retryAfterSeconds: number): ProblemError {
    if (err instanceof ProblemError) return err;
    if (err instanceof DomainError) return problemFromDomainError(err);
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
            return new UnsupportedMediaTypeError((err as Error).message, { cause: err, rule: 'media-type.encoding' });
        case 'entity.verify.failed':
        case 'request.size.invalid':
        case 'stream.encoding.set':
            return new BadRequestError((err as Error).message, [], { cause: err });
        default:
            return undefined;
    }
}
