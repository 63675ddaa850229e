import { request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Where an HTTP API listens: `unix:///absolute/path.sock` (a socket whose
 * directory only the hospital's service user can enter: the file system is the
 * credential) or `http(s)://host:port`.
 */
export interface HttpEndpoint {
    base: URL;
    socketPath?: string;
}

export function parseEndpoint(address: string): HttpEndpoint {
    const url = new URL(address);
    if (url.protocol === 'unix:') return { base: new URL('http://localhost'), socketPath: decodeURIComponent(url.pathname) };
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported API address ${address}`);
    return { base: url };
}

export interface CallOptions {
    method?: string;
    headers?: OutgoingHttpHeaders;
    /** Streamed with node:http, whose pipe honours the socket's backpressure. */
    body?: Readable;
    signal?: AbortSignal;
}

/**
 * One HTTP request, answered with the response stream. node:http rather than
 * fetch: it reaches unix sockets, and (measured on Node 20) fetch() with a
 * streamed body read a slow upload far ahead of the socket and held it all in memory.
 */
export function call(endpoint: HttpEndpoint, path: string, options: CallOptions = {}): Promise<IncomingMessage> {
    const url = new URL(path, endpoint.base);
    return new Promise((resolve, reject) => {
        const req = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
            method: options.method ?? 'POST',
            headers: options.headers,
            signal: options.signal,
            socketPath: endpoint.socketPath,
        });
        req.on('response', resolve);
        req.on('error', reject);
        if (options.body) pipeline(options.body, req).catch(reject);
        else req.end();
    });
}

/** Reads a whole (small) response body as text. */
export async function text(res: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
}

/**
 * The error Kubo reports after a streamed response has begun: the `X-Stream-Error`
 * trailer. Trailers arrive after the body, so call this once the body has ended; a
 * non-empty value means the body is incomplete or wrong whatever its length.
 */
export function streamError(res: IncomingMessage): string | undefined {
    const value = res.trailers['x-stream-error'];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
