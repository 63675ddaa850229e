import type { Contract } from '@hyperledger/fabric-gateway';

const utf8 = new TextDecoder();

/** The transaction was endorsed and ordered but the peers marked it invalid (e.g. an MVCC read conflict). */
export class TransactionInvalidError extends Error {
    readonly txId: string;
    readonly validationCode: number;

    constructor(txId: string, validationCode: number) {
        super(`transaction ${txId} was not committed: validation code ${validationCode}`);
        this.name = 'TransactionInvalidError';
        this.txId = txId;
        this.validationCode = validationCode;
    }
}

export interface SubmitOptions {
    transientData?: Record<string, Uint8Array>;
    endorsingOrganizations?: string[];
}

function parse<T>(bytes: Uint8Array): T {
    const text = utf8.decode(bytes);
    return (text ? JSON.parse(text) : undefined) as T;
}

/** Endorses, orders and waits for the commit: resolving means "on the ledger". */
export async function submit<T = unknown>(
    contract: Contract,
    name: string,
    args: string[],
    options: SubmitOptions = {},
): Promise<{ result: T; txId: string }> {
    const submitted = await contract.submitAsync(name, {
        arguments: args,
        ...(options.transientData ? { transientData: options.transientData } : {}),
        ...(options.endorsingOrganizations ? { endorsingOrganizations: options.endorsingOrganizations } : {}),
    });
    const status = await submitted.getStatus();
    if (!status.successful) throw new TransactionInvalidError(status.transactionId, status.code);
    return { result: parse<T>(submitted.getResult()), txId: submitted.getTransactionId() };
}

export async function evaluate<T = unknown>(contract: Contract, name: string, args: string[] = []): Promise<T> {
    return parse<T>(await contract.evaluate(name, { arguments: args }));
}
