import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { loadConfig, parseConfig } from './load.js';

const minimal = {
    hospital: { mspId: 'Hospital1MSP', name: 'Hospital 1' },
    fabric: { peerEndpoint: 'localhost:7051', tlsRootCertPath: 'tls/ca.pem', certPath: 'id/cert.pem', keyPath: 'id/key.pem' },
    keys: { encryptionPrivateKeyPath: 'keys/enc.key', encryptionPublicKeyPath: 'keys/enc.pub' },
    auth: { jwtPublicKeyPath: 'keys/jwt.pub', issuer: 'ehr-dev-idp:h1', audience: 'ehr-gateway:Hospital1MSP' },
    events: { checkpointPath: 'state/checkpoint.json' },
};

describe('parseConfig', () => {
    it('fills defaults for every optional section', () => {
        const config = parseConfig(minimal, {}, '/srv/h1');
        expect(config.server).toEqual({
            host: '127.0.0.1',
            port: 8080,
            bodyLimitBytes: 2 * 1024 ** 3,
            jsonLimitBytes: 1024 * 1024,
            shutdownGraceMs: 10_000,
            retryAfterSeconds: 5,
            lists: { defaultLimit: 50, maxLimit: 200 },
        });
        expect(config.fabric).toMatchObject({
            channel: 'ehr',
            chaincode: 'ehr',
            deadlines: { evaluateMs: 5_000, commitStatusMs: 3_000 },
            retry: { maxAttempts: 10, initialBackoffMs: 100, maxBackoffMs: 2_000, budgetMs: 30_000 },
        });
        expect(config.ipfs.kuboApiUrl).toBe('http://127.0.0.1:5001');
        expect(config.ipfs.largeBlob).toEqual({ thresholdBytes: 16 * 1024 * 1024, replicationWaitMs: 600_000, pollMs: 500 });
        expect(config.auth.algorithms).toEqual(['ES256']);
        expect(config.log.level).toBe('info');
        expect(config.events).toEqual({
            checkpointPath: '/srv/h1/state/checkpoint.json',
            expiriesPath: '/srv/h1/state/consent-expiries.json',
            expirySweepMs: 10_000,
            concurrency: 8,
            retryDelayMs: 2_000,
            custody: {
                journalPath: '/srv/h1/state/custody-outbox.json',
                statusPath: '/srv/h1/state/custody-status.json',
                batchSize: 125,
                laneConcurrency: 4,
                initialBackoffMs: 1_000,
                maxBackoffMs: 60_000,
                homeDelayMs: 5_000,
            },
        });
        expect(config.keys).toMatchObject({ previousPrivateKeyPaths: [], replaceUnknownLedgerKey: false });
    });

    it('resolves relative paths against the base directory and keeps absolute ones', () => {
        const config = parseConfig({ ...minimal, auth: { ...minimal.auth, jwtPublicKeyPath: '/etc/jwt.pub' } }, {}, '/srv/h1');
        expect(config.fabric.tlsRootCertPath).toBe('/srv/h1/tls/ca.pem');
        expect(config.auth.jwtPublicKeyPath).toBe('/etc/jwt.pub');
    });

    it('serves HTTPS when a certificate and key are configured (paths resolved), and refuses half a pair', () => {
        const config = parseConfig({ ...minimal, server: { tls: { certPath: 'tls/gw.crt', keyPath: '/etc/gw.key' } } }, {}, '/srv/h1');
        expect(config.server.tls).toEqual({ certPath: '/srv/h1/tls/gw.crt', keyPath: '/etc/gw.key' });
        expect(() => parseConfig({ ...minimal, server: { tls: { certPath: 'tls/gw.crt' } } }, {}, '/srv/h1')).toThrow(ConfigError);
        expect(() => parseConfig({ ...minimal, server: { tls: { certPath: 'a', keyPath: 'b', ca: 'c' } } }, {}, '/srv/h1')).toThrow(ConfigError);
    });

    it('applies environment overrides', () => {
        const config = parseConfig(minimal, { EHR_GATEWAY_PORT: '9000', EHR_GATEWAY_HOST: '0.0.0.0', EHR_GATEWAY_KUBO_API_URL: 'http://10.0.0.2:5001' });
        expect(config.server.port).toBe(9000);
        expect(config.server.host).toBe('0.0.0.0');
        expect(config.ipfs.kuboApiUrl).toBe('http://10.0.0.2:5001');
    });

    it('lists every invalid field at once', () => {
        const bad = {
            ...minimal,
            server: { port: 70000 },
            hospital: {},
            fabric: { ...minimal.fabric, peerEndpoint: 'no-port' },
            ipfs: { kuboApiUrl: 'ftp://x', replicationMin: 4, replicationMax: 3 },
        };
        let error: unknown;
        try {
            parseConfig(bad, { EHR_GATEWAY_BODY_LIMIT_BYTES: 'lots' });
        } catch (err) {
            error = err;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const fields = (error as ConfigError).issues.map((issue) => issue.split(':')[0]);
        expect(fields).toEqual(
            expect.arrayContaining(['server.port', 'server.bodyLimitBytes', 'hospital.mspId', 'fabric.peerEndpoint', 'ipfs.kuboApiUrl']),
        );
        expect((error as Error).message).toContain('server.port');
    });

    it('takes retry settings and rejects inconsistent ones', () => {
        const fabric = (extra: object) => ({ ...minimal, fabric: { ...minimal.fabric, ...extra } });
        expect(parseConfig(fabric({ retry: { maxAttempts: 3, budgetMs: 20_000 } })).fabric.retry).toEqual({
            maxAttempts: 3,
            initialBackoffMs: 100,
            maxBackoffMs: 2_000,
            budgetMs: 20_000,
        });
        const issues = (extra: object) => {
            try {
                parseConfig(fabric(extra));
            } catch (err) {
                return (err as ConfigError).issues.map((issue) => issue.split(':')[0]);
            }
            return [];
        };
        expect(issues({ retry: { maxAttempts: 0 } })).toEqual(['fabric.retry.maxAttempts']);
        expect(issues({ retry: { initialBackoffMs: 5_000, maxBackoffMs: 1_000 } })).toEqual(['fabric.retry.initialBackoffMs']);
        expect(issues({ retry: { maxBackoffMs: 40_000 } })).toEqual(['fabric.retry.maxBackoffMs']);
        expect(issues({ deadlines: { commitStatusMs: 30_000 } })).toEqual(['fabric.deadlines.commitStatusMs']);
    });

    it('requires the JWT issuer and audience, and bounds the token lifetime (default one hour)', () => {
        const issuesOf = (raw: unknown) => {
            try {
                parseConfig(raw);
            } catch (err) {
                return (err as ConfigError).issues;
            }
            return [];
        };
        const config = parseConfig(minimal);
        expect(config.auth).toMatchObject({ issuer: 'ehr-dev-idp:h1', audience: 'ehr-gateway:Hospital1MSP', maxTokenLifetimeSeconds: 3_600, clockToleranceSeconds: 5 });
        const missing = issuesOf({ ...minimal, auth: { jwtPublicKeyPath: 'keys/jwt.pub' } });
        expect(missing.map((i) => i.split(':')[0]).sort()).toEqual(['auth.audience', 'auth.issuer']);
        expect(missing.join('\n')).toContain('required');
        expect(issuesOf({ ...minimal, auth: { ...minimal.auth, issuer: '' } }).map((i) => i.split(':')[0])).toEqual(['auth.issuer']);
        expect(parseConfig({ ...minimal, auth: { ...minimal.auth, maxTokenLifetimeSeconds: 900 } }).auth.maxTokenLifetimeSeconds).toBe(900);
        for (const bad of [0, 30, 86_401, 1.5, '3600']) {
            expect(issuesOf({ ...minimal, auth: { ...minimal.auth, maxTokenLifetimeSeconds: bad } }).map((i) => i.split(':')[0])).toEqual(['auth.maxTokenLifetimeSeconds']);
        }
    });

    it('fills generous rate limits per route class, takes overrides and rejects bad ones', () => {
        const config = parseConfig(minimal);
        expect(config.rateLimits).toEqual({
            reads: { max: 20_000, windowSeconds: 60 },
            writes: { max: 3_000, windowSeconds: 60 },
            uploads: { max: 1_000, windowSeconds: 60 },
            public: { max: 3_000, windowSeconds: 60 },
            authFailures: { max: 600, windowSeconds: 60 },
        });
        const low = parseConfig({ ...minimal, rateLimits: { reads: { max: 3 }, authFailures: { max: 2, windowSeconds: 600 } } });
        expect(low.rateLimits.reads).toEqual({ max: 3, windowSeconds: 60 });
        expect(low.rateLimits.authFailures).toEqual({ max: 2, windowSeconds: 600 });
        expect(low.rateLimits.writes.max).toBe(3_000);
        let error: unknown;
        try {
            parseConfig({ ...minimal, rateLimits: { reads: { max: 0 }, writes: { windowSeconds: -1 }, uploads: { max: 'many' } } });
        } catch (err) {
            error = err;
        }
        expect((error as ConfigError).issues.map((i) => i.split(':')[0]).sort()).toEqual([
            'rateLimits.reads.max',
            'rateLimits.uploads.max',
            'rateLimits.writes.windowSeconds',
        ]);
    });

    it('takes a research k of at least the consortium\'s 10 (it can only be raised)', () => {
        expect(parseConfig(minimal).research.minCellSize).toBe(10);
        expect(parseConfig({ ...minimal, research: { minCellSize: 25 } }).research.minCellSize).toBe(25);
        for (const bad of [9, 0, 10.5, 1001]) expect(() => parseConfig({ ...minimal, research: { minCellSize: bad } })).toThrow(ConfigError);
    });

    it('bounds the large-blob threshold below the size at which Cluster\'s add deadlocks', () => {
        const issues = (largeBlob: object) => {
            try {
                parseConfig({ ...minimal, ipfs: { largeBlob } }, {}, '/srv/h1');
                return [];
            } catch (err) {
                return (err as ConfigError).issues.map((i) => i.split(':')[0]);
            }
        };
        expect(issues({ thresholdBytes: 32 * 1024 * 1024 })).toEqual([]);
        expect(issues({ thresholdBytes: 128 * 1024 * 1024 })).toEqual(['ipfs.largeBlob.thresholdBytes']);
        expect(issues({ thresholdBytes: 1024, pollMs: 0 }).sort()).toEqual(['ipfs.largeBlob.pollMs', 'ipfs.largeBlob.thresholdBytes']);
    });

    it('rejects a non-object', () => {
        expect(() => parseConfig('nope')).toThrow(ConfigError);
    });
});

describe('loadConfig', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ehr-config-'));

    it('reads the file named by EHR_GATEWAY_CONFIG', () => {
        const file = join(dir, 'gateway.json');
        writeFileSync(file, JSON.stringify(minimal));
        const config = loadConfig({ EHR_GATEWAY_CONFIG: file });
        expect(config.hospital.mspId).toBe('Hospital1MSP');
        expect(config.keys.encryptionPrivateKeyPath).toBe(join(dir, 'keys/enc.key'));
    });

    it('explains a missing variable, a missing file and malformed JSON', () => {
        expect(() => loadConfig({})).toThrow(/EHR_GATEWAY_CONFIG/);
        expect(() => loadConfig({ EHR_GATEWAY_CONFIG: join(dir, 'absent.json') })).toThrow(/cannot read/);
        const broken = join(dir, 'broken.json');
        writeFileSync(broken, '{');
        expect(() => loadConfig({ EHR_GATEWAY_CONFIG: broken })).toThrow(/not valid JSON/);
    });
});
