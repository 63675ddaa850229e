# Kubo settings for a hospital node in the consortium's private swarm, merged
# over `ipfs init` defaults by steps.sh. Inputs: $api, $swarm, $announce.
{
  Addresses: {
    API: $api,
    Gateway: [],
    Swarm: [$swarm],
    Announce: [$announce],
    AppendAnnounce: [],
    NoAnnounce: []
  },
  # No public bootstrap, relays, NAT traversal, public routers or DNS resolvers:
  # the only peers are the other hospitals (Peering.Peers) behind the swarm key.
  Bootstrap: [],
  AutoConf: { Enabled: false },
  DNS: { Resolvers: {} },
  Routing: { Type: "dht", DelegatedRouters: [] },
  Ipns: { DelegatedPublishers: [] },
  Discovery: { MDNS: { Enabled: false } },
  AutoNAT: { ServiceMode: "disabled" },
  AutoTLS: { Enabled: false },
  Swarm: {
    AddrFilters: [],
    DisableNatPortMap: true,
    RelayClient: { Enabled: false },
    RelayService: { Enabled: false },
    EnableHolePunching: false,
    # Private networks run over TCP only (the PSK protects the TCP stream).
    Transports: { Network: { QUIC: false, WebTransport: false, WebRTCDirect: false, Websocket: false, TCP: true } }
  },
  # CIDv1 with raw leaves for everything this node adds (DESIGN §6).
  Import: { CidVersion: 1, UnixFSRawLeaves: true },
  # Hash every block on read, so a corrupted local copy fails the read (and is not
  # served to peers over bitswap) instead of passing as the blob: the gateway then drops
  # it (repo/verify --drop) and refetches it from a replica.
  Datastore: { StorageMax: "100GB", HashOnRead: true }
}
