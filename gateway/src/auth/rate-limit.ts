/*
 * Abuse limits per actor (THREATS #9): each route class has its own budget per window, counted
 * per hospital + token sub + role once authenticated, and per client address before that
 * (unauthenticated routes, refused tokens). Over budget: 429 problem+json with Retry-After.
 * express-rate-limit keeps the counts (in memory: one gateway process per hospital).
 */
import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Actor } from '../domain.js';
import { TooManyRequestsError } from '../http/problem.js';

/**
 * reads: authenticated GETs; writes: authenticated POST/DELETE with a JSON body or none;
 * uploads: document uploads; public: routes without a token (health, OpenAPI, metrics), per
 * address; authFailures: refused tokens, per address.
 */
export const RATE_CLASSES = ['reads', 'writes', 'uploads', 'public', 'authFailures'] as const;
export type RateClass = (typeof RATE_CLASSES)[number];

export interface RateLimit {
    /** Requests allowed per window (for authFailures: refused tokens per window). */
    max: number;
    windowSeconds: number;
}

export type RateLimits = Record<RateClass, RateLimit>;

/** One limiter per class, shared by every route of that class. */
export type RateLimiters = Record<RateClass, RequestHandler>;

/** The key of an authenticated caller: the hospital whose IdP vouches for it, its sub and role. */
export function actorKey(hospital: string, actor: Actor): string {
    return `${hospital}|${actor.id}|${actor.role}`;
}

function addressKey(req: Request): string {
    // ipKeyGenerator groups an IPv6 client's /56, so rotating through its own addresses does not escape.
    return `addr|${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown')}`;
}

export function createRateLimiters(limits: RateLimits, hospital: string): RateLimiters {
    const make = (cls: RateClass, keyOf: (req: Request, res: Response) => string): RequestHandler => {
        const { max, windowSeconds } = limits[cls];
        return rateLimit({
            windowMs: windowSeconds * 1000,
            limit: max,
            standardHeaders: 'draft-7',
            legacyHeaders: false,
            keyGenerator: keyOf,
            handler: (req, _res, next) => {
                const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
                const retryAfter = reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : windowSeconds;
                const what = cls === 'authFailures' ? 'refused tokens from this address' : cls === 'public' ? `${cls} requests from this address` : `${cls} by this actor`;
                next(
                    new TooManyRequestsError(`rate limit exceeded: more than ${max} ${what} in ${windowSeconds} s; retry after ${retryAfter} s`, retryAfter, {
                        rule: `rate-limit.${cls}`,
                        extensions: { limit: max, windowSeconds },
                    }),
                );
            },
        });
    };
    const byActor = (req: Request, res: Response) => {
        const actor = res.locals.actor as Actor | undefined;
        return actor ? actorKey(hospital, actor) : addressKey(req);
    };
    return {
        reads: make('reads', byActor),
        writes: make('writes', byActor),
        uploads: make('uploads', byActor),
        public: make('public', addressKey),
        authFailures: make('authFailures', addressKey),
    };
}
