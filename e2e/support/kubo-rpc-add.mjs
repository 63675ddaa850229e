// Adds stdin's bytes through the IPFS API at argv[2] with kubo-rpc-client, as
// an EHR integration would, and prints the CID. It runs as a plain Node
// process: under Jest's experimental ESM VM the library's body handling breaks
// once several suites have shared the process.
import { create } from 'kubo-rpc-client';

const url = process.argv[2];
if (!url) {
  console.error('usage: node kubo-rpc-add.mjs <ipfs-api-url> < file');
  process.exit(2);
}
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { cid } = await create({ url }).add(new Uint8Array(Buffer.concat(chunks)), { cidVersion: 1, rawLeaves: true });
process.stdout.write(`${cid.toString()}\n`);
