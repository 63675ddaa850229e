import type { Logger } from 'pino';
import type { BlobStore, HospitalIdentity, Ledger } from '../ports.js';

/** What every service needs: the two ports, who this hospital is, and how to report. */
export interface ServiceContext {
    ledger: Ledger;
    blobs: BlobStore;
    identity: HospitalIdentity;
    logger: Logger;
    /** Retry-After (seconds) for 503s the services raise themselves. */
    retryAfterSeconds: number;
}
