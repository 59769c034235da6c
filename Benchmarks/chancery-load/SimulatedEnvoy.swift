import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf
import Synchronization

/// What one simulated Envoy has seen: per type, the last version it ACKed and when.
final class ClientStats: Sendable {
    struct State {
        var connectedAt: Date?
        var firstCompleteAt: Date?
        var acked: [String: (version: String, at: Date)] = [:]
        var responses = 0
        var nacks = 0
        var error: String?
    }

    let state = Mutex(State())

    func acked(_ type: String, version: String) {
        state.withLock { state in
            state.acked[type] = (version, Date())
            state.responses += 1
            if state.firstCompleteAt == nil, SimulatedEnvoy.allTypes.allSatisfy({ state.acked[$0] != nil }) {
                state.firstCompleteAt = Date()
            }
        }
    }
}

/// A client that speaks ADS as Envoy does: wildcard CDS and LDS, then EDS for the
/// clusters and RDS for the listeners' route configurations, ACKing every response.
struct SimulatedEnvoy: Sendable {
    static let allTypes = [
        "type.googleapis.com/envoy.config.cluster.v3.Cluster",
        "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
        "type.googleapis.com/envoy.config.listener.v3.Listener",
        "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
    ]
    static let cds = allTypes[0], eds = allTypes[1], lds = allTypes[2], rds = allTypes[3]

    let target: (host: String, port: Int)
    let nodeID: String
    let group: String
    let delta: Bool
    let stats: ClientStats

    var node: Envoy_Config_Core_V3_Node {
        var node = Envoy_Config_Core_V3_Node()
        node.id = nodeID
        node.cluster = group
        return node
    }

    func run() async throws {
        try await withGRPCClient(
            transport: .http2NIOPosix(
                target: .ipv4(address: target.host, port: target.port), transportSecurity: .plaintext)
        ) { client in
            let ads = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: client)
            stats.state.withLock { $0.connectedAt = Date() }
            if delta { try await runDelta(ads) } else { try await runStateOfTheWorld(ads) }
        }
    }

    // MARK: state of the world

    private func runStateOfTheWorld(_ ads: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client<HTTP2ClientTransport.Posix>) async throws {
        let (requests, sink) = AsyncStream<Envoy_Service_Discovery_V3_DiscoveryRequest>.makeStream()
        let node = self.node
        @Sendable func request(_ type: String, names: [String] = [], version: String = "", nonce: String = "", first: Bool = false)
            -> Envoy_Service_Discovery_V3_DiscoveryRequest
        {
            var r = Envoy_Service_Discovery_V3_DiscoveryRequest()
            if first { r.node = node }
            r.typeURL = type
            r.resourceNames = names
            r.versionInfo = version
            r.responseNonce = nonce
            return r
        }
        sink.yield(request(Self.cds, first: true))
        sink.yield(request(Self.lds))
        let stats = self.stats
        try await ads.streamAggregatedResources(
            requestProducer: { writer in
                for await r in requests { try await writer.write(r) }
            },
            onResponse: { response in
                var names: [String: [String]] = [:]
                var last: [String: (String, String)] = [:]
                for try await message in response.messages {
                    let type = message.typeURL
                    last[type] = (message.versionInfo, message.nonce)
                    sink.yield(request(type, names: names[type] ?? [], version: message.versionInfo, nonce: message.nonce))
                    stats.acked(type, version: message.versionInfo)
                    let dependent: (String, [String])?
                    switch type {
                    case Self.cds: dependent = (Self.eds, try Self.edsNames(message.resources))
                    case Self.lds: dependent = (Self.rds, try Self.rdsNames(message.resources))
                    default: dependent = nil
                    }
                    if let (next, wanted) = dependent, wanted != names[next] {
                        names[next] = wanted
                        let (version, nonce) = last[next] ?? ("", "")
                        sink.yield(request(next, names: wanted, version: version, nonce: nonce))
                    }
                }
                sink.finish()
            })
    }

    // MARK: delta

    private func runDelta(_ ads: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client<HTTP2ClientTransport.Posix>) async throws {
        let (requests, sink) = AsyncStream<Envoy_Service_Discovery_V3_DeltaDiscoveryRequest>.makeStream()
        let node = self.node
        @Sendable func request(_ type: String, subscribe: [String] = [], unsubscribe: [String] = [], nonce: String = "", first: Bool = false)
            -> Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
        {
            var r = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
            if first { r.node = node }
            r.typeURL = type
            r.resourceNamesSubscribe = subscribe
            r.resourceNamesUnsubscribe = unsubscribe
            r.responseNonce = nonce
            return r
        }
        sink.yield(request(Self.cds, first: true))
        sink.yield(request(Self.lds))
        let stats = self.stats
        try await ads.deltaAggregatedResources(
            requestProducer: { writer in
                for await r in requests { try await writer.write(r) }
            },
            onResponse: { response in
                var held: [String: [String: Google_Protobuf_Any]] = [:]
                var subscribed: [String: Set<String>] = [:]
                for try await message in response.messages {
                    let type = message.typeURL
                    for resource in message.resources { held[type, default: [:]][resource.name] = resource.resource }
                    for name in message.removedResources { held[type]?.removeValue(forKey: name) }
                    sink.yield(request(type, nonce: message.nonce))
                    stats.acked(type, version: message.systemVersionInfo)
                    let dependent: (String, [String])?
                    let bodies = Array((held[type] ?? [:]).values)
                    switch type {
                    case Self.cds: dependent = (Self.eds, try Self.edsNames(bodies))
                    case Self.lds: dependent = (Self.rds, try Self.rdsNames(bodies))
                    default: dependent = nil
                    }
                    if let (next, wanted) = dependent {
                        let now = Set(wanted)
                        let before = subscribed[next] ?? []
                        if now != before {
                            subscribed[next] = now
                            sink.yield(
                                request(next, subscribe: now.subtracting(before).sorted(), unsubscribe: before.subtracting(now).sorted()))
                        }
                    }
                }
                sink.finish()
            })
    }

    // MARK: what Envoy would subscribe to

    static func edsNames(_ resources: [Google_Protobuf_Any]) throws -> [String] {
        try resources.compactMap { any in
            let cluster = try Envoy_Config_Cluster_V3_Cluster(serializedBytes: any.value)
            guard case .type(.eds)? = cluster.clusterDiscoveryType else { return nil }
            return cluster.edsClusterConfig.serviceName.isEmpty ? cluster.name : cluster.edsClusterConfig.serviceName
        }.sorted()
    }

    static func rdsNames(_ resources: [Google_Protobuf_Any]) throws -> [String] {
        var names: Set<String> = []
        for any in resources {
            let listener = try Envoy_Config_Listener_V3_Listener(serializedBytes: any.value)
            for chain in listener.filterChains {
                for filter in chain.filters {
                    guard case .typedConfig(let config)? = filter.configType,
                        config.isA(Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.self)
                    else { continue }
                    let hcm = try Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                        serializedBytes: config.value)
                    if case .rds(let rds)? = hcm.routeSpecifier { names.insert(rds.routeConfigName) }
                }
            }
        }
        return names.sorted()
    }
}
