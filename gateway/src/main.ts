import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Logger } from 'pino';
import { createApp } from './app.js';
import { BreakGlassService } from './break-glass/service.js';
import { JustificationStore } from './break-glass/justification-store.js';
import { FabricBreakGlassLedger } from './fabric/break-glass-ledger.js';
import { createTokenVerifier } from './auth/index.js';
import { Keyring } from './crypto/index.js';
import { loadConfig, type GatewayConfig } from './config/index.js';
import { FabricConnection } from './fabric/connection.js';
import { EventFollower } from './fabric/event-follower.js';
import { warmUpValidator } from './fhir/validator.js';
import { FabricLedger, UnknownLedgerKeyError } from './fabric/fabric-ledger.js';
import { FabricResearchLedger } from './fabric/research-ledger.js';
import { ClusterBlobStore } from './ipfs/cluster-blob-store.js';
import { instrumentBlobStore, instrumentLedger } from './observability/instrument.js';
import { createLogger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import type { LedgerEventListener } from './vitals/vitals-service.js';

/**
 * Registers this hospital's encryption key on the ledger. Retried: at start-up
 * the peer or a quorum of the others may still be coming up.
 */
async function registerHospital(ledger: FabricLedger, config: GatewayConfig, publicKey: string, keys: Keyring, logger: Logger) {
    const name = config.hospital.name ?? config.hospital.mspId;
    const previousPublicKeys = keys.previousPublicKeys();
    for (let attempt = 1; ; attempt++) {
        try {
            const outcome = await ledger.registerSelf(name, publicKey, {
                previousPublicKeys,
                replaceUnknown: config.keys.replaceUnknownLedgerKey,
            });
            logger.info({ mspId: config.hospital.mspId, outcome }, 'hospital encryption key on the ledger');
            return;
        } catch (err) {
            if (err instanceof UnknownLedgerKeyError || attempt >= 30) throw err;
            logger.warn({ attempt, err: { message: (err as Error).message } }, 'hospital registration failed; retrying');
            await new Promise((r) => setTimeout(r, 2_000));
        }
    }
}

async function main(): Promise<void> {
    const config = loadConfig();
    const logger = createLogger({ level: config.log.level });
    const metrics = new Metrics({ defaultMetrics: true });

    const [encryptionPrivateKey, encryptionPublicKey, jwtPublicKey, clusterCredentials] = await Promise.all([
        readFile(config.keys.encryptionPrivateKeyPath, 'utf8'),
        readFile(config.keys.encryptionPublicKeyPath, 'utf8'),
        readFile(config.auth.jwtPublicKeyPath, 'utf8'),
        config.ipfs.clusterBasicAuthPath ? readFile(config.ipfs.clusterBasicAuthPath, 'utf8') : Promise.resolve(undefined),
    ]);
    const keys = new Keyring(encryptionPrivateKey, await Promise.all(config.keys.previousPrivateKeyPaths.map((p) => readFile(p, 'utf8'))));

    const fabricLog = logger.child({ component: 'fabric' });
    const connection = await FabricConnection.open({
        mspId: config.hospital.mspId,
        ...config.fabric,
        onRetry: (event) => fabricLog.warn(event, 'fabric call failed; retrying'),
    });
    const fabricLedger = new FabricLedger(connection, config.hospital.mspId);
    const blobStore = new ClusterBlobStore({ ...config.ipfs, clusterCredentials: clusterCredentials?.trim() });
    await registerHospital(fabricLedger, config, encryptionPublicKey, keys, logger);

    const ledgerEventListeners: LedgerEventListener[] = [
        (name) => {
            if (name.startsWith('Hospital')) fabricLedger.invalidateHospitals();
        },
    ];
    const shutdownHooks: (() => void)[] = [];
    const app = createApp({
        ledger: instrumentLedger(fabricLedger, metrics),
        blobs: instrumentBlobStore(blobStore, metrics),
        identity: { mspId: config.hospital.mspId, keys },
        verifyToken: createTokenVerifier({
            publicKey: jwtPublicKey,
            algorithms: config.auth.algorithms,
            issuer: config.auth.issuer,
            audience: config.auth.audience,
            clockToleranceSeconds: config.auth.clockToleranceSeconds,
            maxTokenLifetimeSeconds: config.auth.maxTokenLifetimeSeconds,
        }),
        logger,
        metrics,
        limits: { bodyLimitBytes: config.server.bodyLimitBytes, jsonLimitBytes: config.server.jsonLimitBytes },
        retryAfterSeconds: config.server.retryAfterSeconds,
        lists: config.server.lists,
        rateLimits: config.rateLimits,
        publicUrl: `${config.server.tls ? 'https' : 'http'}://${config.server.host}:${config.server.port}`,
        breakGlass: new BreakGlassService(
            new FabricBreakGlassLedger(connection),
            new JustificationStore(config.breakGlass.justificationsPath),
            logger.child({ component: 'break-glass' }),
        ),
        research: { ledger: new FabricResearchLedger(connection), minCellSize: config.research.minCellSize },
        vitals: {
            windowMs: config.vitals.windowSeconds * 1000,
            maxBytes: config.vitals.maxBytesPerRequest,
            maxSamples: config.vitals.maxSamplesPerRequest,
            live: config.vitals.live,
        },
        followLedgerEvents: (listener) => ledgerEventListeners.push(listener),
        onShutdown: (hook) => shutdownHooks.push(hook),
    });

    const follower = new EventFollower({
        events: connection.network,
        chaincodeName: connection.contract.getChaincodeName(),
        ledger: fabricLedger,
        blobs: blobStore,
        mspId: config.hospital.mspId,
        keys,
        ...config.events,
        logger: logger.child({ component: 'event-follower' }),
        onCustodyAttempt: (kind, outcome, tasks) => metrics.custodyAttempts.inc({ kind, outcome }, tasks),
        onEvent: (name, payload) => ledgerEventListeners.forEach((listener) => listener(name, payload)),
    });
    metrics.watchCustody(() => follower.outbox.stats());
    follower.start();

    const tls = config.server.tls;
    const server = tls
        ? createTlsServer({ cert: await readFile(tls.certPath), key: await readFile(tls.keyPath), minVersion: 'TLSv1.2' }, app)
        : createServer(app);
    // Uploads and downloads stream for as long as data flows; only idle sockets time out.
    server.requestTimeout = 0;
    server.headersTimeout = 30_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve) => server.listen(config.server.port, config.server.host, resolve));
    logger.info({ host: config.server.host, port: config.server.port, https: Boolean(tls), mspId: config.hospital.mspId }, 'gateway listening');
    // The FHIR R4 schema compiles once (about a second): now, rather than in the first FHIR write.
    setImmediate(() => warmUpValidator());

    let stopping = false;
    const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, 'shutting down: draining in-flight requests');
        const force = setTimeout(() => {
            logger.warn('grace period over; closing remaining connections');
            server.closeAllConnections();
        }, config.server.shutdownGraceMs);
        force.unref();
        // Live views (SSE) never end by themselves: end them (event `end`, reason shutdown) so the server can close.
        for (const hook of shutdownHooks) hook();
        server.close(() => {
            void follower.stop().finally(() => {
                connection.close();
                logger.info('stopped');
                process.exit(0);
            });
        });
        server.closeIdleConnections();
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
    // Configuration and start-up errors: say what is wrong and exit non-zero.
    process.stderr.write(`ehr-gateway: ${(err as Error).message}\n`);
    process.exit(1);
});
