# IPFS Cluster settings for a hospital's Cluster peer, applied over
# `ipfs-cluster-service init --consensus crdt` defaults by steps.sh.
.cluster.peername = $name
| .cluster.secret = ($secret | rtrimstr("\n"))
| .cluster.listen_multiaddress = [$swarm]
# Consortium peers only: no relay service, no mDNS discovery.
| .cluster.enable_relay_hop = false
| .cluster.mdns_interval = "0s"
| .cluster.replication_factor_min = $min
| .cluster.replication_factor_max = $max
# A lost peer's allocations are re-pinned elsewhere once its "ping" metric (TTL:
# twice the ping interval) expires and the monitor's next check notices it; steps.sh
# derives both from EHR_CLUSTER_REPIN_AFTER. Pins in error are retried every
# pin_recover_interval (a peer that comes back recovers its pins).
| .cluster.disable_repinning = false
| .cluster.pin_recover_interval = $pinRecover
| .cluster.monitor_ping_interval = $pingInterval
| .consensus.crdt.cluster_name = "ehr-consortium"
# A peer that missed a head broadcast learns it at the next rebroadcast, and a state
# left dirty by a failed DAG fetch is repaired at the next repair (defaults 1m and 1h).
# Repins are decided from each peer's own state, so a lagging peer would miss them.
| .consensus.crdt.rebroadcast_interval = "10s"
| .consensus.crdt.repair_interval = "1m"
| .consensus.crdt.trusted_peers = $trusted
| .api.restapi.http_listen_multiaddress = $rest
| .api.restapi.basic_auth_credentials = {($user): ($pass | rtrimstr("\n"))}
# Informer metrics are rebroadcast every TTL/2; a shorter TTL lets a restarted
# peer learn the others' metrics, and so allocate, sooner (default 30s).
| .informer.disk.metric_ttl = $metricTtl
| .informer.tags.metric_ttl = $metricTtl
| .informer.pinqueue.metric_ttl = $metricTtl
# Neither the IPFS proxy (it would answer pin/rm, a cluster-wide unpin, with no
# credentials) nor the pinning-service API: gateways add through the REST API.
| del(.api.ipfsproxy)
| del(.api.pinsvcapi)
| .ipfs_connector.ipfshttp.node_multiaddress = $kubo
