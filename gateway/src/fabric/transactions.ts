import type { ResilientContract, WriteOptions } from './resilient.js';

export { TransactionInvalidError } from './errors.js';

const utf8 = new TextDecoder();

export type SubmitOptions = WriteOptions;

function parse<T>(bytes: Uint8Array): T {
    const text = utf8.decode(bytes);
    return (text ? JSON.parse(text) : undefined) as T;
}

/**
 * Endorses, orders and waits for the commit, failing over to other endorsers and orderers
 * (fabric/resilient.ts): resolving means "on the ledger". Failures are fabric/errors.ts's typed errors.
 */
export async function submit<T = unknown>(
    contract: ResilientContract,
    name: string,
    args: string[],
    options: SubmitOptions = {},
): Promise<{ result: T; txId: string }> {
    const { result, txId } = await contract.submit(name, args, options);
    return { result: parse<T>(result), txId };
}

export async function evaluate<T = unknown>(contract: ResilientContract, name: string, args: string[] = []): Promise<T> {
    return parse<T>(await contract.evaluate(name, args));
}
