import type { RequestHandler, Response } from 'express';
import type { Actor, Role } from '../domain.js';
import { ForbiddenError, UnauthorizedError } from '../http/problem.js';
import { InvalidTokenError, type TokenVerifier } from './token-verifier.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

export interface AuthenticateOptions {
    /**
     * Runs on every refused token before the 401 goes out (e.g. the auth-failure rate limit):
     * calling its next with an error (a 429) answers that instead. Valid tokens never reach it,
     * so callers sharing an address with someone guessing tokens are not held up.
     */
    onFailure?: RequestHandler;
}

/** Requires a valid bearer token and keeps the actor it names for the handlers. */
export function authenticate(verify: TokenVerifier, options: AuthenticateOptions = {}): RequestHandler {
    const refuse = (req: Parameters<RequestHandler>[0], res: Response, next: (err?: unknown) => void, error: UnauthorizedError) => {
        if (!options.onFailure) return next(error);
        return options.onFailure(req, res, (err?: unknown) => next(err ?? error));
    };
    return async (req, res, next) => {
        const header = req.get('authorization');
        if (!header) {
            return refuse(req, res, next, new UnauthorizedError(
                `missing bearer token: send "Authorization: Bearer <JWT>" with a token from this hospital's identity provider (locally: network/network.sh token <hospital> <sub> <role>)`,
                { rule: 'token.missing' },
            ));
        }
        const match = BEARER.exec(header.trim());
        if (!match) {
            return refuse(req, res, next, new UnauthorizedError('authorization header must be "Bearer <JWT>" (one space, the JWT as three base64url parts)', {
                rule: 'token.scheme',
            }));
        }
        try {
            res.locals.actor = await verify(match[1]);
        } catch (err) {
            return refuse(req, res, next, new UnauthorizedError((err as Error).message, { cause: err, rule: err instanceof InvalidTokenError ? err.rule : 'token.invalid' }));
        }
        next();
    };
}

/** Lets only the given roles through (after authenticate). */
export function requireRole(...roles: Role[]): RequestHandler {
    return (_req, res, next) => {
        const actor = actorOf(res);
        if (!roles.includes(actor.role)) {
            throw new ForbiddenError(`role ${actor.role} may not do this; allowed: ${roles.join(', ')} (a token with one of those roles)`, {
                extensions: { allowedRoles: roles },
                rule: 'role',
            });
        }
        next();
    };
}

export function actorOf(res: Response): Actor {
    const actor = res.locals.actor as Actor | undefined;
    if (!actor) throw new UnauthorizedError('not authenticated', { rule: 'token.missing' });
    return actor;
}

/** The actor if authenticated, for logs of requests that may have been refused before. */
export function maybeActorOf(res: Response): Actor | undefined {
    return res.locals.actor as Actor | undefined;
}
