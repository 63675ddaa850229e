/**
 * Raised when a blob or a key envelope cannot be authenticated or parsed. The message is
 * deliberately generic toward callers (no oracle about which check failed); the precise
 * reason travels as `reason` for logs and tests.
 */
export class DecryptionError extends Error {
    readonly reason: string;

    constructor(reason: string, options?: ErrorOptions) {
        super(`decryption failed: ${reason}`, options);
        this.name = 'DecryptionError';
        this.reason = reason;
    }
}
