import GatewayModel
import IR

/// What the previous translation planned, for the next one to reuse: the planned routes
/// of an unchanged route on a listener, and the endpoints of a Service port whose
/// Service port and EndpointSlices are unchanged.
///
/// Translation stays a pure function of the ResourceSet: each value is reused only when
/// the whole argument of the function that built it is equal (``Reuse``), so a
/// translation with a cache gives exactly what one without gives. What it saves is the
/// building — and, since reused plan elements keep their storage, the second stage's
/// check that an element is unchanged then costs pointer comparisons.
public final class PlanCache: Sendable {
    /// A route's planned routes on a listener, by route.
    let routeEntries = Reuse<ObjectKey, HTTPRoutePlanner.Input, [RouteEntry]>()
    /// A Service port's endpoints, by Service port.
    let endpoints = Reuse<ServicePort, Endpoints.Input, [Endpoint]>()

    public init() {}

    /// Values reused and built by the last translation.
    public var lastTranslation: (reused: Int, built: Int) {
        let entries = routeEntries.lastRound
        let endpoints = endpoints.lastRound
        return (entries.reused + endpoints.reused, entries.built + endpoints.built)
    }

    func begin() {
        routeEntries.begin()
        endpoints.begin()
    }

    func finish() {
        routeEntries.finish()
        endpoints.finish()
    }
}
