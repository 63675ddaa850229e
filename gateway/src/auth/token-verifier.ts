import { createPublicKey, type KeyObject } from 'node:crypto';
import { errors as joseErrors, jwtVerify } from 'jose';
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
            throw new InvalidTokenError(describe(err), { cause: err });
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

function describe(err: unknown): string {
    if (err instanceof joseErrors.JWTExpired) return 'token expired';
    if (err instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${err.claim} invalid`;
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature invalid';
    if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
    return 'token malformed or not verifiable';
}
