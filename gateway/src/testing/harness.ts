import { randomBytes } from 'node:crypto';
import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { pino, type Logger } from 'pino';
import request from 'supertest';
import { createApp } from '../app.js';
import type { RateLimits } from '../auth/rate-limit.js';
import { createTokenVerifier } from '../auth/token-verifier.js';
import { generateEncryptionKeyPair } from '../crypto/key-wrap.js';
import { Keyring } from '../crypto/keyring.js';
import type { Role } from '../domain.js';
import { Metrics } from '../observability/metrics.js';
import type { VitalsOptions } from '../vitals/vitals-service.js';
import { FakeBlobStore } from './fake-blob-store.js';
import { FakeNetwork } from './fake-ledger.js';
import { FakeResearchNetwork } from './fake-research-ledger.js';

export interface Harness {
    network: FakeNetwork;
    blobs: FakeBlobStore;
    /** Gateways of Hospital1MSP and Hospital2MSP over the same fake ledger and blob store. */
    apps: Record<'h1' | 'h2', ReturnType<typeof createApp>>;
    token(sub: string, role: Role): Promise<string>;
    metrics: Metrics;
    /** Encryption private keys by mspId, so tests can play the custodian's envelope delivery. */
    privateKeys: Map<string, string>;
    /** Signs a token with the harness IdP's key: any claims, for tests of refused tokens. */
    sign(claims: Record<string, unknown>, options?: { lifetimeSeconds?: number; iat?: number | null; exp?: number | null }): Promise<string>;
}

/** What the harness IdP writes in iss and aud, and what its gateways accept. */
export const HARNESS_ISSUER = 'ehr-test-idp';
export const HARNESS_AUDIENCE = 'ehr-gateway:test';
export const HARNESS_MAX_TOKEN_LIFETIME_SECONDS = 3_600;

/** The schema's defaults: far above anything the unit tests send. */
export const DEFAULT_TEST_RATE_LIMITS: RateLimits = {
    reads: { max: 20_000, windowSeconds: 60 },
    writes: { max: 3_000, windowSeconds: 60 },
    uploads: { max: 1_000, windowSeconds: 60 },
    public: { max: 3_000, windowSeconds: 60 },
    authFailures: { max: 600, windowSeconds: 60 },
};

export async function createHarness(
    options: { bodyLimitBytes?: number; rateLimits?: Partial<RateLimits>; logger?: Logger; vitals?: VitalsOptions } = {},
): Promise<Harness> {
    const network = new FakeNetwork();
    const research = new FakeResearchNetwork(network);
    const blobs = new FakeBlobStore();
    const signing = await generateKeyPair('ES256', { extractable: true });
    const verifyToken = createTokenVerifier({
        publicKey: await exportSPKI(signing.publicKey),
        algorithms: ['ES256'],
        issuer: HARNESS_ISSUER,
        audience: HARNESS_AUDIENCE,
        maxTokenLifetimeSeconds: HARNESS_MAX_TOKEN_LIFETIME_SECONDS,
        clockToleranceSeconds: 5,
    });
    const logger = options.logger ?? pino({ level: 'silent' });
    const metrics = new Metrics();
    const privateKeys = new Map<string, string>();
    const app = (mspId: string) => {
        const keys = generateEncryptionKeyPair();
        privateKeys.set(mspId, keys.privateKey);
        network.addHospital(mspId, keys.publicKey);
        return createApp({
            ledger: network.ledgerFor(mspId),
            blobs,
            identity: { mspId, keys: new Keyring(keys.privateKey) },
            verifyToken,
            logger,
            metrics: mspId === 'Hospital1MSP' ? metrics : new Metrics(),
            limits: { bodyLimitBytes: options.bodyLimitBytes ?? 1024 * 1024, jsonLimitBytes: 16 * 1024 },
            retryAfterSeconds: 3,
            rateLimits: { ...DEFAULT_TEST_RATE_LIMITS, ...options.rateLimits },
            research: { ledger: research.ledgerFor(mspId), minCellSize: 10 },
            vitals: options.vitals,
        });
    };
    const apps = { h1: app('Hospital1MSP'), h2: app('Hospital2MSP') };
    return {
        network,
        blobs,
        apps,
        metrics,
        privateKeys,
        token: (sub, role) => sign(signing.privateKey, { sub, role }),
        sign: (claims, o) => sign(signing.privateKey, claims, o),
    };
}

function sign(key: CryptoKey, claims: Record<string, unknown>, o: { lifetimeSeconds?: number; iat?: number | null; exp?: number | null } = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const iat = o.iat === undefined ? now : o.iat;
    const exp = o.exp === undefined ? (iat ?? now) + (o.lifetimeSeconds ?? 600) : o.exp;
    const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).setIssuer(HARNESS_ISSUER).setAudience(HARNESS_AUDIENCE);
    if (iat !== null) jwt.setIssuedAt(iat);
    if (exp !== null) jwt.setExpirationTime(exp);
    return jwt.sign(key);
}

/** The people of most REST tests: two clinicians and an auditor of hospital 1, and a patient registered there. */
export interface Cast {
    clinician1: string;
    clinician2: string;
    auditor: string;
    patient: string;
    patientId: string;
}

/** A harness with the usual cast; the patient is registered at hospital 1 (through its REST API, as an EHR would). */
export async function createHarnessWithCast(options: Parameters<typeof createHarness>[0] = {}): Promise<{ h: Harness } & Cast> {
    const h = await createHarness(options);
    const patientId = `Hospital1MSP:p-${randomBytes(4).toString('hex')}`;
    const cast = {
        clinician1: await h.token('dr-ana', 'clinician'),
        clinician2: await h.token('dr-ben', 'clinician'),
        auditor: await h.token('aud-1', 'auditor'),
        patient: await h.token(patientId, 'patient'),
        patientId,
    };
    const res = await request(h.apps.h1).post('/api/v1/patients').set({ Authorization: `Bearer ${cast.clinician1}` }).send({ patientId });
    if (res.status !== 201) throw new Error(`registering ${patientId}: ${res.status} ${JSON.stringify(res.body)}`);
    return { h, ...cast };
}
