import GatewayModel
import IR
import Synchronization

/// What the previous translation planned, for the next one to reuse: the planned routes
/// of an unchanged route on a listener, each HTTP port's virtual hosts (a virtual host's
/// routes are reused when the planned routes they are made from are unchanged, and after
/// a few HTTPRoutes changed only their hostnames are planned again), an unchanged
/// route's resolved rules while no object other than a route changed, and a route's
/// status while its attachment and what planning found for it are unchanged.
///
/// Translation stays a pure function of the ResourceSet: each value is reused only when
/// the whole argument of the function that built it is equal (``Reuse``), so a
/// translation with a cache gives exactly what one without gives. (A route's rules
/// read objects of every other kind; those are compared as a whole, once per
/// translation, as its ``Environment``.) What it saves is the
/// building — and, since reused plan elements keep their storage, the second stage's
/// check that an element is unchanged then costs pointer comparisons.
public final class PlanCache: Sendable {
    /// A route's planned routes on a listener, by route.
    let routeEntries = Reuse<ObjectKey, HTTPRoutePlanner.Input, [RouteEntry]>()
    /// The virtual hosts of each HTTP port the last translation planned, by proxy group
    /// and port (``GatewayPlanner/HTTPHosts``), and those this one planned so far.
    private let httpHosts = Mutex<(last: [String: GatewayPlanner.HTTPHosts], now: [String: GatewayPlanner.HTTPHosts])>(
        ([:], [:]))
    /// Each proxy group's Service ports' clusters as planned, in order, as the last
    /// translation had them and as this one has so far.
    private let serviceClusters = Mutex<(last: [String: ServiceClusters], now: [String: ServiceClusters])>(([:], [:]))
    /// Virtual hosts reused and planned by this translation so far.
    private let hostCounts = Mutex((reused: 0, built: 0))
    /// Service ports' clusters taken from the last translation and planned, by this one so far.
    private let clusterCounts = Mutex((kept: 0, planned: 0))
    /// A route's rules with their backends resolved, by route.
    let resolvedRules = Reuse<ObjectKey, RouteAttachment.RulesInput, [ResolvedRule]>()
    /// A route's status, by route.
    let routeStatuses = Reuse<ObjectKey, RouteStatus.Input, ObjectStatus>()
    /// Every route's status as the last translation made them, with the attachment and
    /// findings they were made from (``RouteStatus/all(_:findings:cache:)``).
    let keptRouteStatuses = Mutex<RouteStatus.Kept?>(nil)
    /// A Service port's endpoints and protocol, by port, within an environment's epoch
    /// (they read Services, EndpointSlices and Pods only).
    let endpoints = Reuse<ServicePort, Int, Endpoints.Facts>()
    /// Every route of the last translation's set, oldest first, with its place and that
    /// set (``RouteObject/all(in:cache:)``).
    let routeObjects = Mutex<RouteObject.Kept?>(nil)
    /// The last translation's attachment of routes, for the next one to put the routes
    /// that changed in place (``RouteAttachment/attach(_:in:to:listenerSets:context:)``).
    let attachments = Mutex<RouteAttachment.Kept?>(nil)
    /// How many translations did that rather than attach every route.
    let attachmentPatches = Atomic<Int>(0)
    /// The last attachment's ``Attachments/generation``.
    let attachmentGeneration = Atomic<Int>(0)
    /// How many HTTP ports' virtual hosts were planned by putting a few routes in place
    /// rather than planning every hostname.
    let hostPatches = Atomic<Int>(0)
    /// The objects other than routes that the last translation read, and a number that
    /// changes whenever they do (``Environment``).
    private let environment = Mutex<(objects: ResourceSet?, epoch: Int)>((nil, 0))
    /// The indexes of those objects (``Context/EnvironmentIndexes``), for their epoch.
    private let environmentIndexes = Mutex<(epoch: Int, indexes: Context.EnvironmentIndexes)?>(nil)

    public init() {}

    /// Values reused and built by the last translation.
    public var lastTranslation: (reused: Int, built: Int) {
        [routeEntries.lastRound, hostCounts.withLock { $0 }, resolvedRules.lastRound, routeStatuses.lastRound].reduce((0, 0)) {
            ($0.0 + $1.reused, $0.1 + $1.built)
        }
    }

    /// The Service ports' clusters the last translation planned for `group`, taken out.
    func serviceClusters(of group: String) -> ServiceClusters? {
        serviceClusters.withLock { $0.last.removeValue(forKey: group) }
    }

    /// How many Service ports the last translation planned `group`'s clusters for.
    func targetCount(of group: String) -> Int? {
        serviceClusters.withLock { $0.last[group]?.order.count }
    }

    /// The Service ports' clusters this translation planned for `group`: `kept` of them
    /// taken from the last one.
    func keep(_ clusters: ServiceClusters, of group: String, kept: Int) {
        serviceClusters.withLock { $0.now[group] = clusters }
        clusterCounts.withLock { $0 = ($0.kept + kept, $0.planned + clusters.order.count - kept) }
    }

    /// Service ports' clusters the last translation took from the one before, and planned.
    public var lastServiceClusters: (kept: Int, planned: Int) { clusterCounts.withLock { $0 } }

    /// The virtual hosts the last translation planned under `key`, taken out.
    func takeHosts(_ key: String) -> GatewayPlanner.HTTPHosts? {
        httpHosts.withLock { $0.last.removeValue(forKey: key) }
    }

    /// The virtual hosts this translation planned under `key`, for the next one.
    func keep(_ hosts: GatewayPlanner.HTTPHosts, _ key: String, counts: (reused: Int, built: Int)) {
        httpHosts.withLock { $0.now[key] = hosts }
        hostCounts.withLock { $0 = ($0.reused + counts.reused, $0.built + counts.built) }
    }

    /// Starts a translation of `set`; returns the environment its routes resolve in.
    func begin(_ set: ResourceSet) -> Environment {
        // The rounds of routeEntries and resolvedRules begin as routes attach: with
        // every route, or patching the last round with the routes that changed.
        hostCounts.withLock { $0 = (0, 0) }
        clusterCounts.withLock { $0 = (0, 0) }
        // routeStatuses' round begins with the statuses: every route's, or patching
        // the last round with the routes whose attachment or findings changed.
        endpoints.begin()
        return environment.withLock { environment in
            if environment.objects.map({ !set.sameObjects(as: $0, ofKinds: Environment.includes) }) ?? true {
                environment.epoch += 1
            }
            environment.objects = set
            return Environment(epoch: environment.epoch)
        }
    }

    func finish() {
        routeEntries.finish()
        // What this translation did not plan is forgotten.
        httpHosts.withLock { $0 = ($0.now, [:]) }
        serviceClusters.withLock { $0 = ($0.now, [:]) }
        resolvedRules.finish()
        routeStatuses.finish()
        endpoints.finish()
    }

    /// The environment's indexes: those built in `environment`'s epoch, else `build()`'s.
    func indexes(in environment: Environment, build: () -> Context.EnvironmentIndexes) -> Context.EnvironmentIndexes {
        if let kept = environmentIndexes.withLock({ $0.flatMap { $0.epoch == environment.epoch ? $0.indexes : nil } }) {
            return kept
        }
        let indexes = build()
        environmentIndexes.withLock { $0 = (environment.epoch, indexes) }
        return indexes
    }

    /// A proxy group's Service ports in the order their clusters were planned in, and
    /// each one's cluster with what it was planned from, for the next translation to
    /// take while the port's users and what they ask of it are the same and so is the
    /// environment (a cluster reads nothing else: its endpoints, protocol and
    /// BackendTLSPolicy are the environment's). A cluster that speaks TLS is not kept
    /// (planning it adds to the group's secrets, and reads a Gateway's client
    /// certificate, which ages).
    struct ServiceClusters: Sendable {
        var order: [ServicePort] = []
        /// In step with `order`.
        var clusters: [Kept?] = []
        /// The environment's epoch they were planned in.
        var epoch: Int?

        struct Kept: Sendable {
            let asked: Asked
            /// The cluster; its origins are the users' then the Service's.
            let plan: ClusterPlan
        }

        /// What the group's routes ask of a Service port besides sending to it.
        struct Asked: Equatable, Sendable {
            var http2: Bool
            var connectTimeoutMilliseconds: Int64?
            var unverifiedTLS: Bool
        }
    }

    /// Everything but the routes themselves: the Services, ReferenceGrants, policies,
    /// Secrets and the rest that a route's backends resolve against. Two translations
    /// share an epoch when these objects are the same (wherever they were read), so a value
    /// computed from a route and its environment is reused, within the epoch, for the
    /// same route.
    struct Environment: Hashable, Sendable {
        let epoch: Int

        static func includes(_ kind: Kind) -> Bool {
            ![.httpRoute, .grpcRoute, .tlsRoute, .tcpRoute, .udpRoute].contains(kind)
        }
    }
}
