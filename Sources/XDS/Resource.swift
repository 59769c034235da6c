import EnvoyAPI
import Foundation
import SwiftProtobuf

/// One xDS resource, serialised once.
///
/// The packed `Any` holds the resource's bytes; every stream that sends this version
/// shares that buffer (copy-on-write), so a snapshot is encoded once however many
/// Envoys receive it. Immutable, and a class so that the dictionaries and push lists of
/// a thousand streams hold one reference each rather than copies of its five fields.
public final class Resource: Sendable, Hashable {
    public let type: ResourceType
    public let name: String
    /// Content hash of the serialised bytes: the resource's version in delta xDS.
    public let version: String
    /// ``ContentHash/pair(_:_:)`` of its name and version: what it adds to its type's
    /// version (``ContentHash/of(resources:)``).
    let pairHash: UInt64
    /// The resource as it goes on the wire.
    public let body: Google_Protobuf_Any
    /// Resources this one names over xDS (found once, from the typed message).
    public let references: [ResourceReference]

    public convenience init(_ message: some ResourceMessage) throws {
        try self.init(
            type: Swift.type(of: message).resourceType, name: message.resourceName, message: message,
            references: ResourceReferences.of(message))
    }

    convenience init(
        type: ResourceType, name: String, message: some SwiftProtobuf.Message, references: [ResourceReference]
    ) throws {
        try self.init(
            type: type, name: name, bytes: message.serializedBytes(options: deterministicEncoding), references: references)
    }

    /// A resource from bytes already serialised (deterministically).
    init(type: ResourceType, name: String, bytes: Data, references: [ResourceReference]) {
        var any = Google_Protobuf_Any()
        any.typeURL = type.typeURL
        any.value = bytes
        self.type = type
        self.name = name
        let version = ContentHash.of(bytes)
        self.version = version
        self.pairHash = ContentHash.pair(name, version)
        self.body = any
        self.references = references
    }

    /// Decodes the resource back into its Envoy message (for inspection and checks).
    public func decode<M: ResourceMessage>(as _: M.Type = M.self) throws -> M {
        precondition(M.resourceType == type, "decoding a \(type) resource as \(M.self)")
        return try M(serializedBytes: body.value)
    }

    public static func == (lhs: Resource, rhs: Resource) -> Bool {
        lhs.type == rhs.type && lhs.name == rhs.name && lhs.version == rhs.version
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(type)
        hasher.combine(name)
        hasher.combine(version)
    }
}

/// An Envoy message that is an xDS resource: it knows its type and its name.
public protocol ResourceMessage: SwiftProtobuf.Message {
    static var resourceType: ResourceType { get }
    var resourceName: String { get }
}

extension Envoy_Config_Listener_V3_Listener: ResourceMessage {
    public static var resourceType: ResourceType { .listener }
    public var resourceName: String { name }
}

extension Envoy_Config_Route_V3_RouteConfiguration: ResourceMessage {
    public static var resourceType: ResourceType { .route }
    public var resourceName: String { name }
}

extension Envoy_Config_Route_V3_ScopedRouteConfiguration: ResourceMessage {
    public static var resourceType: ResourceType { .scopedRoute }
    public var resourceName: String { name }
}

extension Envoy_Config_Cluster_V3_Cluster: ResourceMessage {
    public static var resourceType: ResourceType { .cluster }
    public var resourceName: String { name }
}

extension Envoy_Config_Endpoint_V3_ClusterLoadAssignment: ResourceMessage {
    public static var resourceType: ResourceType { .endpoint }
    public var resourceName: String { clusterName }
}

extension Envoy_Extensions_TransportSockets_Tls_V3_Secret: ResourceMessage {
    public static var resourceType: ResourceType { .secret }
    public var resourceName: String { name }
}
