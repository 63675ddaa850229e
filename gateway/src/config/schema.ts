import { dirname, join, resolve } from 'node:path';
import { RESEARCH_MAX_CELL_SIZE, RESEARCH_MIN_CELL_SIZE } from '@ehr/ledger-model';
import { z } from 'zod';

const GiB = 1024 ** 3;

/**
 * The gateway's configuration schema. Relative paths resolve against the directory of the
 * configuration file, so an instance directory can be moved as a whole.
 */
export function configSchema(baseDir: string) {
    const filePath = z.string().min(1).transform((p) => resolve(baseDir, p));
    const millis = z.number().int().positive();
    const url = z.url({ protocol: /^https?$/ });
    const port = z.number().int().min(0).max(65535);

    const server = z.object({
        host: z.string().min(1).default('127.0.0.1'),
        port: port.default(8080),
        /** Largest document accepted by the upload route. */
        bodyLimitBytes: z.number().int().positive().default(2 * GiB),
        /** Largest JSON body of every other route. */
        jsonLimitBytes: z.number().int().positive().default(1024 * 1024),
        shutdownGraceMs: millis.default(10_000),
        /** Retry-After (seconds) sent with 503s. */
        retryAfterSeconds: z.number().int().positive().default(5),
        /**
         * HTTPS with this certificate and key (PEM files); plain HTTP without. A gateway
         * reached from other hosts serves HTTPS: tokens and documents cross the wire.
         */
        tls: z.object({ certPath: filePath, keyPath: filePath }).strict().optional(),
        /** Page sizes of the paginated lists (`?limit=`); the chaincode never pages more than 200. */
        lists: z
            .object({
                defaultLimit: z.number().int().min(1).max(200).default(50),
                maxLimit: z.number().int().min(1).max(200).default(200),
            })
            .refine((l) => l.defaultLimit <= l.maxLimit, { message: 'defaultLimit must not exceed maxLimit', path: ['defaultLimit'] })
            .prefault({}),
    });

    const hospital = z.object({
        mspId: z.string().regex(/^[A-Za-z0-9.-]+$/, 'MSP ID of letters, digits, dots and dashes'),
        name: z.string().min(1).optional(),
    });

    const fabric = z.object({
        peerEndpoint: z.string().regex(/^[^\s:]+:\d{1,5}$/, 'host:port'),
        /** TLS server name override when the endpoint address differs from the peer's certificate. */
        peerHostAlias: z.string().min(1).optional(),
        tlsRootCertPath: filePath,
        certPath: filePath,
        keyPath: filePath,
        channel: z.string().min(1).default('ehr'),
        chaincode: z.string().min(1).default('ehr'),
        deadlines: z
            .object({
                evaluateMs: millis.default(5_000),
                endorseMs: millis.default(15_000),
                submitMs: millis.default(5_000),
                /**
                 * How long one wait for a commit lasts. When it passes, the gateway asks its peer
                 * whether the transaction committed and, if not (lost in a dead Raft leader's
                 * batch), hands the same signed transaction to the ordering service again. A few
                 * batch timeouts plus a Raft election; `fabric.retry.budgetMs` bounds the whole write.
                 */
                commitStatusMs: millis.default(3_000),
            })
            .prefault({}),
        /** Fail-over of reads and writes when a peer or orderer is down (fabric/resilient.ts). */
        retry: z
            .object({
                /** Failed steps (endorsement, submission, commit wait, read conflict) tolerated per call. */
                maxAttempts: z.number().int().min(1).max(100).default(10),
                /** First backoff between tries; doubles per failure up to maxBackoffMs, jittered. */
                initialBackoffMs: millis.default(100),
                maxBackoffMs: millis.default(2_000),
                /** The longest one call may take, retries included, before the client gets 503 with Retry-After. */
                budgetMs: millis.default(30_000),
            })
            .prefault({}),
    });

    const ipfs = z.object({
        /**
         * Kubo's RPC API: `unix:///path/api.sock` (what the consortium configures: a
         * socket in a directory only the hospital's user can enter) or http(s)://host:port.
         */
        kuboApiUrl: z.union([url, z.string().regex(/^unix:\/\/\/\S+$/, 'unix:///absolute/path')]).default('http://127.0.0.1:5001'),
        clusterRestUrl: url.default('http://127.0.0.1:9094'),
        /** File holding `user:password` for Cluster's REST API; a path so the secret stays out of the config. */
        clusterBasicAuthPath: filePath.optional(),
        replicationMin: z.number().int().positive().default(2),
        replicationMax: z.number().int().positive().default(3),
        timeoutMs: millis.default(30_000),
        /**
         * A store waits until Cluster can allocate its pin to replicationMin peers
         * (e.g. while peers restart) for up to waitMs, then answers 503 with Retry-After.
         */
        allocation: z
            .object({
                /** Cluster's allocator.balanced.allocate_by (its default unless configured otherwise). */
                metrics: z.array(z.string().min(1)).min(1).default(['tag:group', 'freespace']),
                waitMs: millis.default(15_000),
                probeIntervalMs: millis.default(250),
                /** How long one successful check is trusted before the next store looks again. */
                trustMs: millis.default(2_000),
            })
            .prefault({}),
        /**
         * Blobs over `thresholdBytes` of ciphertext are added to the hospital's own Kubo and then
         * pinned through Cluster, and the store answers once replicationMin peers hold them
         * (ipfs/cluster-blob-store.ts): Cluster's own add deadlocks on Kubo's unix socket at
         * about 100 MB, so the threshold stays well below that. It is also how much ciphertext
         * a store reads ahead into memory before it chooses the way.
         */
        largeBlob: z
            .object({
                thresholdBytes: z.number().int().min(1024 * 1024).max(64 * 1024 * 1024).default(16 * 1024 * 1024),
                /** How long a large store waits for replicationMin peers to hold the blob before it unpins it and answers 503. */
                replicationWaitMs: millis.default(600_000),
                pollMs: millis.default(500),
            })
            .prefault({}),
        /** How a read heals a corrupted local copy of a blob (see ipfs/cluster-blob-store.ts). */
        integrity: z
            .object({
                /** A read that gets no data for this long fails: Kubo would wait for a missing block forever. */
                idleMs: millis.default(60_000),
                /** After corrupted blocks were dropped, how long the refetch from a replica may stay silent. */
                refetchMs: millis.default(15_000),
                /** Deadline of one repo scan that drops corrupted blocks (it reads every block). */
                dropTimeoutMs: millis.default(300_000),
                /** Heals one read may attempt before it gives up. */
                maxHeals: z.number().int().min(1).max(20).default(3),
            })
            .prefault({}),
    });

    const keys = z.object({
        encryptionPrivateKeyPath: filePath,
        encryptionPublicKeyPath: filePath,
        /**
         * Keys this hospital used before a rotation, newest first. Envelopes
         * wrapped to them stay readable, and the gateway rotates the ledger's
         * key only away from one of these.
         */
        previousPrivateKeyPaths: z.array(filePath).default([]),
        /**
         * Rotate even when the ledger names a key that is neither the current
         * nor a previous one: every envelope wrapped to it becomes unreadable here.
         */
        replaceUnknownLedgerKey: z.boolean().default(false),
    });

    const auth = z.object({
        jwtPublicKeyPath: filePath,
        /** Required: the `iss` of this hospital's identity provider; tokens of any other are refused. */
        issuer: z.string({ error: 'required: the iss claim of this hospital identity provider' }).min(1),
        /** Required: the `aud` tokens for this gateway carry; tokens for another gateway are refused. */
        audience: z.string({ error: 'required: the aud claim of tokens for this gateway' }).min(1),
        algorithms: z.array(z.enum(['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256'])).min(1).default(['ES256']),
        clockToleranceSeconds: z.number().int().min(0).max(300).default(5),
        /**
         * The longest lifetime (exp - iat) a token may have, plus clockToleranceSeconds; a token
         * without exp or iat, or living longer, is refused (401) however fresh it is.
         */
        maxTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(3_600),
    });

    /**
     * Abuse limits (auth/rate-limit.ts): requests per window and route class, per actor
     * (hospital + sub + role) or, without a token, per client address. The defaults are far above
     * what a person or the e2e suites and `npm run bench` send (dozens of concurrent requests per
     * actor), so only runaway clients meet them; lower them per deployment (overrides.json).
     */
    const limit = (max: number) =>
        z
            .object({
                max: z.number().int().min(1).max(1_000_000).default(max),
                windowSeconds: z.number().int().min(1).max(86_400).default(60),
            })
            .prefault({});
    const rateLimits = z.object({
        reads: limit(20_000),
        writes: limit(3_000),
        uploads: limit(1_000),
        public: limit(3_000),
        authFailures: limit(600),
    });

    const events = z
        .object({
            checkpointPath: filePath,
            /** The consents granted to this hospital with an expiry; default: beside the checkpoint. */
            expiriesPath: filePath.optional(),
            /** How often lapsed consents are looked for, to purge their envelopes. */
            expirySweepMs: millis.default(10_000),
            /** Envelope deliveries or purges of one chaincode event submitted at once. */
            concurrency: z.number().int().min(1).max(64).default(8),
            /** Delay before the follower resumes from its checkpoint after an outage. */
            retryDelayMs: millis.default(2_000),
            /** The custody outbox (deliveries, purges, unpins; DESIGN §9). */
            custody: z
                .object({
                    /** The outbox journal; default: custody-outbox.json beside the checkpoint. */
                    journalPath: filePath.optional(),
                    /** Its summary for `network.sh status`; default: custody-status.json beside the checkpoint. */
                    statusPath: filePath.optional(),
                    /** Envelopes per Access:DeliverEnvelopes transaction (the chaincode takes at most 1000). */
                    batchSize: z.number().int().min(1).max(1000).default(125),
                    /** Batches in flight per grantee (one while its last attempt failed): one's wrapping overlaps another's commit. */
                    laneConcurrency: z.number().int().min(1).max(16).default(4),
                    initialBackoffMs: millis.default(1_000),
                    maxBackoffMs: millis.default(60_000),
                    /** The home hospital's delay before delivering records of another custodian. */
                    homeDelayMs: millis.default(5_000),
                })
                .prefault({}),
        })
        .transform((e) => {
            const dir = dirname(e.checkpointPath);
            return {
                ...e,
                expiriesPath: e.expiriesPath ?? join(dir, 'consent-expiries.json'),
                custody: {
                    ...e.custody,
                    journalPath: e.custody.journalPath ?? join(dir, 'custody-outbox.json'),
                    statusPath: e.custody.statusPath ?? join(dir, 'custody-status.json'),
                },
            };
        });

    /** Break-glass: where this hospital keeps its declarations' justifications (never on the ledger); default beside the checkpoint. */
    const breakGlass = z.object({ justificationsPath: filePath.optional() });
    /**
     * Research statistics (services/research.ts). minCellSize: this hospital's k; the chaincode
     * refuses anything below the consortium's RESEARCH_MIN_CELL_SIZE, so it can only be raised.
     */
    const research = z.object({
        minCellSize: z.number().int().min(RESEARCH_MIN_CELL_SIZE).max(RESEARCH_MAX_CELL_SIZE).default(RESEARCH_MIN_CELL_SIZE),
    });

    /** Vital-sign ingest and live views (vitals/). */
    const vitals = z.object({
        /** Width of one stored chunk (one encrypted record of category vitals per window). */
        windowSeconds: z.number().int().min(1).max(3_600).default(60),
        /** Largest NDJSON body of one post (413 beyond). */
        maxBytesPerRequest: z.number().int().positive().max(256 * 1024 * 1024).default(8 * 1024 * 1024),
        /** Most samples in one post (413 beyond). */
        maxSamplesPerRequest: z.number().int().positive().max(10_000_000).default(100_000),
        live: z
            .object({
                /** Samples one live view may fall behind before it is ended (event end, reason overflow). */
                maxBufferedSamples: z.number().int().positive().default(20_000),
                /** A keep-alive comment this often, so an idle stream stays open through proxies. */
                heartbeatMs: millis.default(15_000),
                /** A view ends after this long (reason max-duration); the client opens a new one, audited anew. */
                maxSessionMs: millis.default(3_600_000),
                /** How often the chaincode judges an open view's access again (a lapsed consent ends it). */
                recheckMs: millis.default(5_000),
            })
            .prefault({}),
    });

    const log = z.object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    });

    return z
        .object({
            server: server.prefault({}),
            hospital,
            fabric,
            ipfs: ipfs.prefault({}),
            keys,
            auth,
            rateLimits: rateLimits.prefault({}),
            events,
            breakGlass: breakGlass.prefault({}),
            vitals: vitals.prefault({}),
            log: log.prefault({}),
            research: research.prefault({}),
        })
        .transform((c) => ({
            ...c,
            breakGlass: { justificationsPath: c.breakGlass.justificationsPath ?? join(dirname(c.events.checkpointPath), 'emergency-justifications.json') },
        }))
        .superRefine((config, ctx) => {
            const { retry, deadlines } = config.fabric;
            if (retry.initialBackoffMs > retry.maxBackoffMs) {
                ctx.addIssue({ code: 'custom', path: ['fabric', 'retry', 'initialBackoffMs'], message: 'must not exceed maxBackoffMs' });
            }
            if (retry.maxBackoffMs >= retry.budgetMs) {
                ctx.addIssue({ code: 'custom', path: ['fabric', 'retry', 'maxBackoffMs'], message: 'must be less than budgetMs' });
            }
            if (deadlines.commitStatusMs >= retry.budgetMs) {
                ctx.addIssue({
                    code: 'custom',
                    path: ['fabric', 'deadlines', 'commitStatusMs'],
                    message: 'must be less than fabric.retry.budgetMs, or a lost transaction is never resubmitted',
                });
            }
            if (config.ipfs.replicationMin > config.ipfs.replicationMax) {
                ctx.addIssue({ code: 'custom', path: ['ipfs', 'replicationMin'], message: 'must not exceed replicationMax' });
            }
        });
}

export type GatewayConfig = z.output<ReturnType<typeof configSchema>>;
export type GatewayConfigInput = z.input<ReturnType<typeof configSchema>>;
