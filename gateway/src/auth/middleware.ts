import type { RequestHandler, Response } from 'express';
import type { Actor, Role } from '../domain.js';
import { ForbiddenError, UnauthorizedError } from '../http/problem.js';
import type { TokenVerifier } from './token-verifier.js';

const BEARER = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** Requires a valid bearer token and keeps the actor it names for the handlers. */
export function authenticate(verify: TokenVerifier): RequestHandler {
    return async (req, res, next) => {
        const header = req.get('authorization');
        if (!header) throw new UnauthorizedError(`missing bearer token: send "Authorization: Bearer <JWT>" with a token from this hospital's identity provider (locally: network/network.sh token <hospital> <sub> <role>)`);
        const match = BEARER.exec(header.trim());
        if (!match) throw new UnauthorizedError('authorization header must be "Bearer <JWT>" (one space, the JWT as three base64url parts)');
        try {
            res.locals.actor = await verify(match[1]);
        } catch (err) {
            throw new UnauthorizedError((err as Error).message, { cause: err });
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
            });
        }
        next();
    };
}

export function actorOf(res: Response): Actor {
    const actor = res.locals.actor as Actor | undefined;
    if (!actor) throw new UnauthorizedError('not authenticated');
    return actor;
}
