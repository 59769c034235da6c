import GatewayModel
import IR

/// What the previous translation planned, for the next one to reuse: the planned routes
/// of an unchanged route on a listener.
///
/// Translation stays a pure function of the ResourceSet: each value is reused only when
/// the whole argument of the function that built it is equal (``Reuse``), so a
/// translation with a cache gives exactly what one without gives. What it saves is the
/// building — and, since reused plan elements keep their storage, the second stage's
/// check that an element is unchanged then costs pointer comparisons.
public final class PlanCache: Sendable {
    /// A route's planned routes on a listener, by route.
    let routeEntries = Reuse<ObjectKey, HTTPRoutePlanner.Input, [RouteEntry]>()

    public init() {}

    /// Values reused and built by the last translation.
    public var lastTranslation: (reused: Int, built: Int) { routeEntries.lastRound }

    func begin() { routeEntries.begin() }

    func finish() { routeEntries.finish() }
}
