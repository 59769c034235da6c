import GatewayModel

/// Chancery's intermediate representation: what one proxy group is to serve, with every
/// Gateway API decision already taken.
///
/// Translation has two stages. The first (`Translation`) reads Kubernetes objects and
/// settles everything the Gateway API leaves to the controller — which listeners share a
/// port, which route wins a hostname, which backend a reference resolves to, which
/// policy applies — writing a condition for each choice; its output is a `ProxyPlan`
/// per proxy group plus every object's status. The second (`EnvoyBuild`) turns a plan
/// into Envoy protos and takes no decision: everything it needs is spelled out here.
///
/// The plan is made of plain values (`Hashable`, `Sendable`): the second stage reuses an
/// Envoy message whenever the plan element it was built from is equal to the new one.
/// Names (`address:port`, `namespace/service:port`, …) are the Envoy resource names, so a
/// plan can be read next to what a proxy holds. `Encodable` gives `chancery translate
/// --ir`, the admin endpoint's IR view and the IR goldens; private keys never encode.
public struct ProxyPlan: Hashable, Sendable, Encodable {
    /// Sorted by port, then address.
    public var listeners: [ListenerPlan]
    /// Sorted by name.
    public var clusters: [ClusterPlan]
    /// Certificates and CA bundles the listeners and clusters name, sorted by name.
    public var secrets: [SecretPlan]

    public init(listeners: [ListenerPlan] = [], clusters: [ClusterPlan] = [], secrets: [SecretPlan] = []) {
        self.listeners = listeners
        self.clusters = clusters
        self.secrets = secrets
    }

    /// Which objects each Envoy resource of this plan was made from: when a proxy rejects
    /// a resource, these are the objects to tell.
    public var origins: [ResourceKey: Set<ObjectKey>] {
        var result: [ResourceKey: Set<ObjectKey>] = [:]
        for listener in listeners {
            result[ResourceKey(.listener, listener.name), default: []].formUnion(listener.origins.keys)
            for table in listener.traffic.routeTables {
                result[ResourceKey(.route, table.name), default: []].formUnion(table.origins.keys)
                // In the scoped layout a table's hosts with routes are scopes named by their
                // hostname: a scope comes from its routes and the Gateway (or ListenerSet)
                // owning the listener. Whichever table is scoped, hosts of other tables
                // with the same hostname add their objects here too.
                let owners = table.origins.keys.filter { $0.kind == .gateway || $0.kind == .listenerSet }
                for host in table.virtualHosts where host.domains.count == 1 && !host.routes.isEmpty {
                    result[ResourceKey(.scopedRoute, host.domains[0]), default: []]
                        .formUnion(host.routes.map(\.origin) + owners)
                }
            }
        }
        for cluster in clusters {
            result[ResourceKey(.cluster, cluster.name), default: []].formUnion(cluster.origins.keys)
            if cluster.kind.hasDiscoveredEndpoints {
                result[ResourceKey(.endpoint, cluster.name), default: []].formUnion(cluster.endpointOrigins.keys)
            }
        }
        for secret in secrets {
            result[ResourceKey(.secret, secret.name), default: []].formUnion(secret.origins.keys)
        }
        return result
    }
}

/// The kinds of Envoy resource a plan becomes (xDS's six types).
public enum ResourceKind: String, Hashable, Sendable, Codable, CaseIterable, Comparable {
    case listener, scopedRoute, route, cluster, endpoint, secret

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// One Envoy resource by kind and name: how origins are looked up, and how the admin
/// endpoint names a resource a proxy rejected.
public struct ResourceKey: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var kind: ResourceKind
    public var name: String

    public init(_ kind: ResourceKind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(kind.rawValue)/\(name)" }

    public static func < (a: Self, b: Self) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// Encodes a one-case-of-several value the way people read it: `{"case": value}`.
struct SingleKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(_ name: String) { stringValue = name }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

extension Encoder {
    func encodeCase(_ name: String, _ value: some Encodable) throws {
        var container = container(keyedBy: SingleKey.self)
        try container.encode(value, forKey: SingleKey(name))
    }
}

/// The objects an element of a plan was made from, in the order planning met them.
/// Adding is an append (planning adds one per route and backend, thousands per
/// translation); duplicates are dropped when read (``set``) or shown (sorted).
public struct Origins: Hashable, Sendable, Encodable, ExpressibleByArrayLiteral {
    public private(set) var keys: [ObjectKey]

    public init(_ keys: [ObjectKey] = []) { self.keys = keys }
    public init(arrayLiteral keys: ObjectKey...) { self.keys = keys }

    public mutating func insert(_ key: ObjectKey) { keys.append(key) }

    /// Every object, once.
    public var set: Set<ObjectKey> { Set(keys) }

    /// As shown in JSON: sorted, each once.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(set.sorted().map(\.description))
    }
}
