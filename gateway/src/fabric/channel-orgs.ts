import { common } from '@hyperledger/fabric-protos';
import type { Network } from '@hyperledger/fabric-gateway';

/**
 * The channel's application organisations, read from its configuration (cscc
 * GetChannelConfig), which is what the MAJORITY endorsement policy counts. The
 * ledger's hospital list can differ from it for a while: a joining hospital is in
 * the channel before its gateway registers, and a leaving one is still in it
 * after the ledger approved its departure. Sizing endorser sets from the ledger
 * then names too few, and every write fails its endorsement policy at commit.
 */
export class ChannelOrganisations {
    readonly #network: Pick<Network, 'getContract' | 'getName'>;
    readonly #ttlMs: number;
    #cached: { at: number; orgs: string[] } | undefined;
    #reading: Promise<string[]> | undefined;

    constructor(network: Pick<Network, 'getContract' | 'getName'>, ttlMs = 5_000) {
        this.#network = network;
        this.#ttlMs = ttlMs;
    }

    /** The organisations' names (MSP IDs here: configtx names each organisation by its MSP ID), sorted. */
    async list(): Promise<string[]> {
        if (this.#cached && Date.now() - this.#cached.at < this.#ttlMs) return this.#cached.orgs;
        // Concurrent writes share one read.
        this.#reading ??= this.#read().finally(() => {
            this.#reading = undefined;
        });
        return this.#reading;
    }

    /** Forget the cached answer: a write named too few endorsers, so the channel changed. */
    invalidate(): void {
        this.#cached = undefined;
    }

    async #read(): Promise<string[]> {
        const bytes = await this.#network.getContract('cscc').evaluateTransaction('GetChannelConfig', this.#network.getName());
        const orgs = applicationOrgs(bytes);
        this.#cached = { at: Date.now(), orgs };
        return orgs;
    }
}

/** The application organisations of a serialized common.Config. */
export function applicationOrgs(configBytes: Uint8Array): string[] {
    const application = common.Config.deserializeBinary(configBytes).getChannelGroup()?.getGroupsMap().get('Application');
    if (!application) throw new Error('the channel configuration has no Application group');
    return [...application.getGroupsMap().keys()].sort();
}
