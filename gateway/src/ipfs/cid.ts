/**
 * Just enough of CIDs to check a single-block blob without Kubo's help: a CIDv1 in
 * base32 with the raw codec and a sha2-256 multihash names exactly the SHA-256 of its
 * bytes (what Cluster's add returns for a blob of up to one chunk, with raw leaves).
 */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const RAW_CODEC = 0x55;
const SHA2_256 = 0x12;

function base32Decode(text: string): Buffer | undefined {
    const out: number[] = [];
    let bits = 0;
    let value = 0;
    for (const ch of text) {
        const index = BASE32.indexOf(ch);
        if (index < 0) return undefined;
        value = (value << 5) | index;
        bits += 5;
        if (bits >= 8) {
            out.push((value >>> (bits - 8)) & 0xff);
            bits -= 8;
        }
    }
    return Buffer.from(out);
}

function varint(bytes: Buffer, at: number): [value: number, next: number] | undefined {
    let value = 0;
    for (let shift = 0, i = at; i < bytes.length && shift < 28; shift += 7, i++) {
        value |= (bytes[i] & 0x7f) << shift;
        if ((bytes[i] & 0x80) === 0) return [value, i + 1];
    }
    return undefined;
}

/** The SHA-256 a raw-codec CIDv1 names, or `undefined` for any other CID (e.g. a dag-pb root). */
export function rawSha256Of(cid: string): Buffer | undefined {
    if (!cid.startsWith('b')) return undefined;
    const bytes = base32Decode(cid.slice(1));
    if (!bytes) return undefined;
    const version = varint(bytes, 0);
    if (!version || version[0] !== 1) return undefined;
    const codec = varint(bytes, version[1]);
    if (!codec || codec[0] !== RAW_CODEC) return undefined;
    const hash = varint(bytes, codec[1]);
    if (!hash || hash[0] !== SHA2_256) return undefined;
    const length = varint(bytes, hash[1]);
    if (!length || length[0] !== 32 || bytes.length !== length[1] + 32) return undefined;
    return bytes.subarray(length[1]);
}
