import * as grpc from '@grpc/grpc-js';
import { connect, hash, signers, type Contract, type Gateway, type Network } from '@hyperledger/fabric-gateway';
import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface FabricConnectionOptions {
  mspId: string;
  /** host:port of the hospital's own peer (Fabric Gateway service). */
  peerEndpoint: string;
  /** TLS host name override when the endpoint's address is not in the peer's certificate. */
  peerHostAlias?: string;
  tlsRootCertPath: string;
  certPath: string;
  keyPath: string;
  channel: string;
  chaincode: string;
  deadlines: { evaluateMs: number; endorseMs: number; submitMs: number; commitStatusMs: number };
}

/**
 * The gateway's one long-lived gRPC connection to its peer, reused by every
 * request; closed once at shutdown.
 */
export class FabricConnection {
  private constructor(
    readonly client: grpc.Client,
    readonly gateway: Gateway,
    readonly network: Network,
    readonly contract: Contract,
  ) {}

  static async open(options: FabricConnectionOptions): Promise<FabricConnection> {
    const [tlsRoot, cert, key] = await Promise.all([
      readFile(options.tlsRootCertPath),
      readFile(options.certPath),
      readFile(options.keyPath),
    ]);
    const grpcOptions: grpc.ClientOptions = {
      'grpc.keepalive_time_ms': 120_000,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    };
    if (options.peerHostAlias) grpcOptions['grpc.ssl_target_name_override'] = options.peerHostAlias;
    const client = new grpc.Client(options.peerEndpoint, grpc.credentials.createSsl(tlsRoot), grpcOptions);
    const d = options.deadlines;
    const gateway = connect({
      client,
      identity: { mspId: options.mspId, credentials: cert },
      signer: signers.newPrivateKeySigner(createPrivateKey(key)),
      hash: hash.sha256,
      evaluateOptions: () => ({ deadline: Date.now() + d.evaluateMs }),
      endorseOptions: () => ({ deadline: Date.now() + d.endorseMs }),
      submitOptions: () => ({ deadline: Date.now() + d.submitMs }),
      commitStatusOptions: () => ({ deadline: Date.now() + d.commitStatusMs }),
    });
    const network = gateway.getNetwork(options.channel);
    return new FabricConnection(client, gateway, network, network.getContract(options.chaincode));
  }

  /** True when the peer answers a ledger query on the channel. */
  async healthy(): Promise<boolean> {
    try {
      await this.network.getContract('qscc').evaluateTransaction('GetChainInfo', this.network.getName());
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.gateway.close();
    this.client.close();
  }
}
