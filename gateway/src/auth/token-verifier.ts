import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import { ACTOR_ID, PATIENT_ID } from '@ehr/ledger-model';
import { z } from 'zod';
import { type Actor, ROLES } from '../domain.js';

export interface TokenVerifierOptions {
    /** The identity provider's verification key: SPKI PEM or a KeyObject. */
    publicKey: string | KeyObject;
    algorithms: string[];
    /** Required: a token of another issuer (another hospital's IdP) is refused. */
    issuer: string;
    /** Required: a token minted for another audience (another hospital's gateway) is refused. */
    audience: string;
    /** The longest lifetime (exp - iat) a token may have; a longer-lived one is refused, however fresh. */
    maxTokenLifetimeSeconds: number;
    clockToleranceSeconds?: number;
}

/** Why a token was refused; the message is safe to show the client, the rule is for the denial log. */
export class InvalidTokenError extends Error {
    /** Short ID of the check that failed, e.g. `token.expired`, `token.lifetime`. */
    readonly rule: string;

    constructor(message: string, rule: string, options?: ErrorOptions) {
        super(message, options);
        this.name = 'InvalidTokenError';
        this.rule = rule;
    }
}

// The sub is recorded on the ledger as the actor, so it must be a pseudonym the
// chaincode accepts (a patient's is their patientId): refused here with a 401
// rather than failing later as a 400 from the ledger.
const claimsSchema = z
    .object({
        sub: z.string().regex(ACTOR_ID.pattern, `must be a pseudonym: ${ACTOR_ID.description}`),
        role: z.enum(ROLES),
    })
    .refine((c) => c.role !== 'patient' || PATIENT_ID.pattern.test(c.sub), {
        path: ['sub'],
        message: `a patient's sub must be their patientId: ${PATIENT_ID.description}`,
    });

export type TokenVerifier = (token: string) => Promise<Actor>;

/**
 * Verifies a bearer JWT (signature, algorithm, exp, iat, issuer, audience, lifetime) and returns
 * the actor it names. The lifetime bound means a stolen token is useful for a bounded time
 * however its issuer was configured (THREATS #15).
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
    const key = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey;
    const tolerance = options.clockToleranceSeconds ?? 0;
    return async (token) => {
        let payload: { exp?: number; iat?: number };
        try {
            ({ payload } = await jwtVerify(token, key, {
                algorithms: options.algorithms,
                issuer: options.issuer,
                audience: options.audience,
                clockTolerance: tolerance,
                requiredClaims: ['exp', 'iat', 'sub'],
            }));
        } catch (err) {
            const { message, rule } = describe(err, token, options);
            throw new InvalidTokenError(message, rule, { cause: err });
        }
        const lifetime = (payload.exp ?? 0) - (payload.iat ?? 0);
        if (lifetime > options.maxTokenLifetimeSeconds + tolerance) {
            throw new InvalidTokenError(
                `token lifetime too long: exp - iat is ${lifetime} s, and this gateway accepts at most ${options.maxTokenLifetimeSeconds} s (auth.maxTokenLifetimeSeconds); get a shorter-lived token from the identity provider`,
                'token.lifetime',
            );
        }
        const claims = claimsSchema.safeParse(payload);
        if (!claims.success) {
            throw new InvalidTokenError(
                `token claims invalid: ${claims.error.issues.map((i) => `${i.path.join('.') || 'claims'} ${i.message}`).join('; ')}`,
                'token.claims',
                { cause: claims.error },
            );
        }
        return { id: claims.data.sub, role: claims.data.role };
    };
}

function describe(err: unknown, token: string, options: TokenVerifierOptions): { message: string; rule: string } {
    if (err instanceof joseErrors.JWTExpired) {
        return { message: 'token expired: get a fresh one from the identity provider (locally: network/network.sh token <hospital> <sub> <role>)', rule: 'token.expired' };
    }
    if (err instanceof joseErrors.JWTClaimValidationFailed && err.reason === 'missing' && ['exp', 'iat', 'sub'].includes(err.claim)) {
        return {
            message: `token lacks the ${err.claim} claim: this gateway needs exp, iat and sub (its lifetime, exp - iat, may be at most ${options.maxTokenLifetimeSeconds} s)`,
            rule: 'token.missing-claim',
        };
    }
    const foreign = elsewhere(token, options);
    if (foreign && (err instanceof joseErrors.JWSSignatureVerificationFailed || (err instanceof joseErrors.JWTClaimValidationFailed && (err.claim === 'iss' || err.claim === 'aud')))) {
        return { message: foreign, rule: 'token.other-gateway' };
    }
    if (err instanceof joseErrors.JWTClaimValidationFailed) return { message: `token claim ${err.claim} invalid${accepted(options)}`, rule: `token.claim-${ruleSafe(err.claim)}` };
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
        return { message: `token signature invalid: not signed by this gateway's identity provider${accepted(options)}`, rule: 'token.signature' };
    }
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return { message: `token algorithm not allowed; accepted: ${options.algorithms.join(', ')}`, rule: 'token.algorithm' };
    return { message: 'token malformed or not verifiable', rule: 'token.malformed' };
}

/** A claim name as part of a metric label: bounded to the registered claims jose checks. */
function ruleSafe(claim: string): string {
    return ['iss', 'aud', 'exp', 'iat', 'nbf', 'sub'].includes(claim) ? claim : 'other';
}

/** What this gateway accepts, for messages: its issuer and audience are no secret. */
function accepted(options: TokenVerifierOptions): string {
    return `; this gateway accepts tokens of issuer ${options.issuer}, audience ${options.audience}`;
}

/**
 * A token that names another issuer or audience was most likely sent to the wrong hospital's
 * gateway, not forged: say so. The claims are read unverified, only to word the message;
 * nothing is decided on them.
 */
function elsewhere(token: string, options: TokenVerifierOptions): string | undefined {
    let claims: { iss?: unknown; aud?: unknown };
    try {
        claims = decodeJwt(token);
    } catch {
        return undefined;
    }
    const iss = printable(claims.iss);
    const aud = printable(Array.isArray(claims.aud) ? claims.aud[0] : claims.aud);
    const otherIssuer = iss !== undefined && iss !== options.issuer;
    const otherAudience = aud !== undefined && aud !== options.audience;
    if (!otherIssuer && !otherAudience) return undefined;
    const issued = [iss ? `by ${iss}` : '', aud ? `for ${aud}` : ''].filter(Boolean).join(' ');
    return `token was issued ${issued}, not for this gateway${accepted(options)}: send it to the gateway it was issued for, or get a token from this hospital's identity provider`;
}

/** An unverified claim, echoed only when it is a short, plain string. */
function printable(value: unknown): string | undefined {
    return typeof value === 'string' && /^[\x20-\x7e]{1,128}$/.test(value) ? value : undefined;
}
