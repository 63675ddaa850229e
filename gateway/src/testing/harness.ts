import { SignJWT, exportSPKI, generateKeyPair, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { createApp } from '../app.js';
import { createTokenVerifier } from '../auth/token-verifier.js';
import { generateEncryptionKeyPair } from '../crypto/key-wrap.js';
import { Keyring } from '../crypto/keyring.js';
import type { Role } from '../domain.js';
import { Metrics } from '../observability/metrics.js';
import { FakeBlobStore } from './fake-blob-store.js';
import { FakeNetwork } from './fake-ledger.js';

export interface Harness {
    network: FakeNetwork;
    blobs: FakeBlobStore;
    /** Gateways of Hospital1MSP and Hospital2MSP over the same fake ledger and blob store. */
    apps: Record<'h1' | 'h2', ReturnType<typeof createApp>>;
    token(sub: string, role: Role): Promise<string>;
    metrics: Metrics;
    /** Encryption private keys by mspId, so tests can play the custodian's envelope delivery. */
    privateKeys: Map<string, string>;
}

export async function createHarness(options: { bodyLimitBytes?: number } = {}): Promise<Harness> {
    const network = new FakeNetwork();
    const blobs = new FakeBlobStore();
    const signing = await generateKeyPair('ES256', { extractable: true });
    const verifyToken = createTokenVerifier({ publicKey: await exportSPKI(signing.publicKey), algorithms: ['ES256'] });
    const logger = pino({ level: 'silent' });
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
        });
    };
    const apps = { h1: app('Hospital1MSP'), h2: app('Hospital2MSP') };
    return {
        network,
        blobs,
        apps,
        metrics,
        privateKeys,
        token: (sub, role) => sign(signing.privateKey, sub, role),
    };
}

function sign(key: CryptoKey, sub: string, role: Role): Promise<string> {
    return new SignJWT({ role }).setProtectedHeader({ alg: 'ES256' }).setSubject(sub).setIssuedAt().setExpirationTime('10m').sign(key);
}
