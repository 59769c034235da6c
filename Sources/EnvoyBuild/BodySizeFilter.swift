import EnvoyAPI
import IR
import SwiftProtobuf

/// Request body limits (ingress-nginx's `proxy-body-size`): Envoy's buffer filter,
/// disabled on the listener and enabled by the routes that set a limit. It buffers the
/// body (as ingress-nginx does) and answers 413 when it grows over the limit.
struct BodySizeFilter: HTTPFilter {
    let name = "envoy.filters.http.buffer"
    let disabledByDefault = true

    func listenerConfig(for listener: HTTPListenerPlan) -> Google_Protobuf_Any? {
        guard listener.hasRoute(where: { $0.maxRequestBytes != nil }) else { return nil }
        return try! .packing(Self.buffer(Self.largest))
    }

    func routeConfig(for route: RoutePlan) -> Google_Protobuf_Any? {
        guard let limit = route.maxRequestBytes else { return nil }
        var perRoute = Envoy_Extensions_Filters_Http_Buffer_V3_BufferPerRoute()
        perRoute.buffer = Self.buffer(limit)
        return try! .packing(perRoute)
    }

    /// The largest limit Envoy takes (a 32-bit count of bytes).
    static let largest = Int(UInt32.max)

    static func buffer(_ bytes: Int) -> Envoy_Extensions_Filters_Http_Buffer_V3_Buffer {
        var buffer = Envoy_Extensions_Filters_Http_Buffer_V3_Buffer()
        buffer.maxRequestBytes = Google_Protobuf_UInt32Value(UInt32(min(bytes, largest)))
        return buffer
    }
}
