import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import { ACTOR_ID, PATIENT_ID } from '@ehr/ledger-model';
import { z } from 'zod';
import { type Actor, ROLES } from '../domain.js';

export interface TokenVerifierOptions {
    /** The identity provider's verification key: SPKI PEM or a KeyObject. */
    publicKey: string | KeyObject;
    algorithms: string[];
    issuer?: string;
    audience?: string;
    clockToleranceSeconds?: number;
}

/** Why a token was refused; the message is safe to show the client. */
export class InvalidTokenError extends Error {
    constructor(message: string, options?: ErrorOptions) {
        super(message, options);
        this.name = 'InvalidTokenError';
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

/** Verifies a bearer JWT (signature, algorithm, exp, issuer, audience) and returns the actor it names. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
    const key = typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey;
    return async (token) => {
        let payload: unknown;
        try {
            ({ payload } = await jwtVerify(token, key, {
                algorithms: options.algorithms,
                issuer: options.issuer,
                audience: options.audience,
                clockTolerance: options.clockToleranceSeconds ?? 0,
                requiredClaims: ['exp', 'sub'],
            }));
        } catch (err) {
            throw new InvalidTokenError(describe(err, token, options), { cause: err });
        }
        const claims = claimsSchema.safeParse(payload);
        if (!claims.success) {
            throw new InvalidTokenError(`token claims invalid: ${claims.error.issues.map((i) => `${i.path.join('.') || 'claims'} ${i.message}`).join('; ')}`, {
                cause: claims.error,
            });
        }
        return { id: claims.data.sub, role: claims.data.role };
    };
}

function describe(err: unknown, token: string, options: TokenVerifierOptions): string {
    if (err instanceof joseErrors.JWTExpired) return 'token expired: get a fresh one from the identity provider (locally: network/network.sh token <hospital> <sub> <role>)';
    const foreign = elsewhere(token, options);
    if (foreign && (err instanceof joseErrors.JWSSignatureVerificationFailed || (err instanceof joseErrors.JWTClaimValidationFailed && (err.claim === 'iss' || err.claim === 'aud')))) {
        return foreign;
    }
    if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${err.claim} invalid${accepted(options)}`;
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return `token signature invalid: not signed by this gateway's identity provider${accepted(options)}`;
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return `token algorithm not allowed; accepted: ${options.algorithms.join(', ')}`;
    return 'token malformed or not verifiable';
}

/** What this gateway accepts, for messages: its issuer and audience are no secret. */
function accepted(options: TokenVerifierOptions): string {
    const parts = [options.issuer ? `issuer ${options.issuer}` : '', options.audience ? `audience ${options.audience}` : ''].filter(Boolean);
    return parts.length ? `; this gateway accepts tokens of ${parts.join(', ')}` : '';
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
    const otherIssuer = iss !== undefined && options.issuer !== undefined && iss !== options.issuer;
    const otherAudience = aud !== undefined && options.audience !== undefined && aud !== options.audience;
    if (!otherIssuer && !otherAudience) return undefined;
    const issued = [iss ? `by ${iss}` : '', aud ? `for ${aud}` : ''].filter(Boolean).join(' ');
    return `token was issued ${issued}, not for this gateway${accepted(options)}: send it to the gateway it was issued for, or get a token from this hospital's identity provider`;
}

/** An unverified claim, echoed only when it is a short, plain string. */
function printable(value: unknown): string | undefined {
    return typeof value === 'string' && /^[\x20-\x7e]{1,128}$/.test(value) ? value : undefined;
}
