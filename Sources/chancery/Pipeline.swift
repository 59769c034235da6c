import Admin
import ConfigSources
import EnvoyAPI
import EnvoyBuild
import Foundation
import GatewayModel
import IR
import Logging
import MeshIdentity
import Metrics
import Translation
import XDS

/// Source → translation → snapshots. A group whose new resources do not form a
/// consistent snapshot keeps its last good one; groups that disappear are emptied.
struct Pipeline {
    let cache: SnapshotCache
    let admin: AdminState
    let logger: Logger
    /// The addresses Gateways may ask for (`--gateway-addresses`; nil: any).
    let gatewayAddresses: [AddressRange]?
    /// Ports taken on the proxies' hosts (`--reserved-ports`).
    let reservedPorts: Set<Int>
    /// Objects of one kind beyond this many are refused (`--max-objects-per-kind`).
    let maxObjectsPerKind: Int
    /// The ports Ingress proxy groups listen on (`--ingress-ports`).
    let ingressPorts: IngressPorts
    private var groups: Set<String> = []
    /// The version of each group last logged as held by every proxy.
    private var reportedHeld: [String: String] = [:]
    /// What the last translation built and serialised, reused for what did not change:
    /// a one-route edit rebuilds and re-serialises about one route's worth.
    private let plans = PlanCache()
    private let builder: EnvoyBuilder
    /// Issues mesh workloads' certificates as their resources are built.
    let meshCA: MeshCA?
    /// Told who owns each sidecar group after every translation.
    let access: XDSAccess?
    private let encoder = SnapshotEncoder()
    /// Resources across all groups after the last translation: when the world shrinks,
    /// the memory it used is handed back to the system.
    private var resourceCount = 0
    /// The last set applied and its translation: an identical set (the watcher's first
    /// read repeats the startup read; safety rescans find nothing new) is not translated again.
    private var last: (set: ResourceSet, result: TranslationResult)?
    /// What translation last saw: `last.set` with quarantined objects as they were.
    private var lastEffective: ResourceSet?
    /// Objects set aside because a proxy rejected what they produced.
    private(set) var quarantine = Quarantine()
    /// Test-only (`serve --corrupt-annotated-for-tests`): route configurations built from
    /// an object annotated `chancery.dev/test-corrupt` get a regex Envoy refuses, so that
    /// tests can prove quarantine with a rejection no validation of Chancery's can foresee.
    var corruptAnnotatedForTests = false
    /// The mesh's trust domain (`--trust-domain`).
    var trustDomain = Translator.defaultTrustDomain
    /// Told how long each change took to translate, build and encode: the sources' quiet
    /// window follows it (``Debounce/following(_:shortest:longest:limit:)``).
    var changeCost: ChangeCost?
    static let corruptAnnotation = "chancery.dev/test-corrupt"
    /// The source named for the first translation, of what the sources read at start.
    static let startup = "startup"

    init(
        cache: SnapshotCache, admin: AdminState, logger: Logger, gatewayAddresses: [AddressRange]? = nil,
        reservedPorts: Set<Int> = [], maxObjectsPerKind: Int = SourceLimits.defaults.maxObjectsPerKind,
        ingressPorts: IngressPorts = IngressPorts(), meshCA: MeshCA? = nil, access: XDSAccess? = nil,
        routeLayout: RouteLayout = .single
    ) {
        self.meshCA = meshCA
        self.access = access
        builder = EnvoyBuilder(cache: EnvoyCache(), meshCertificates: meshCA, routeLayout: routeLayout)
        self.ingressPorts = ingressPorts
        self.gatewayAddresses = gatewayAddresses
        self.reservedPorts = reservedPorts
        self.maxObjectsPerKind = maxObjectsPerKind
        self.cache = cache
        self.admin = admin
        self.logger = logger
    }

    /// Translates `set` and hands every group's snapshot to the cache.
    /// - Parameters:
    ///   - source: what changed (`files`, `kubernetes`, `recheck`), for metrics and logs.
    ///   - recheck: translate even an unchanged set (certificates age).
    @discardableResult
    mutating func apply(_ set: ResourceSet, seenAt: Date = Date(), source: String, recheck: Bool = false) -> TranslationResult {
        let set = set.capped(perKind: maxObjectsPerKind)
        // An unchanged set translates the same, except that certificates age: a
        // recheck translates it again (versions are content hashes, so if nothing
        // changed no proxy hears of it).
        let changed = last.map { set.changedKeys(since: $0.set) }
        if let last, changed?.isEmpty == true, set.errors == last.set.errors, !recheck { return last.result }
        Counter(label: "chancery_source_events_total", dimensions: [("source", source)]).increment()
        logger.debug(
            "change", metadata: ["source": "\(source)", "objects": "\(changed.map { "\($0.count)" } ?? "all")"])
        if let changed, let lastEffective { quarantine.noteChanges(changed, previous: lastEffective) }
        let (effective, released) = quarantine.apply(to: set)
        for key in released { logger.notice("object changed: it leaves quarantine", metadata: ["object": "\(key)"]) }
        let start = ContinuousClock.now
        var translator = Translator(
            cache: plans, gatewayAddresses: gatewayAddresses, reservedPorts: reservedPorts, ingressPorts: ingressPorts)
        translator.trustDomain = trustDomain
        var result = translator.translate(effective)
        var configs = builder.build(result.plans, identical: result.identical)
        if corruptAnnotatedForTests { Self.corrupt(&configs, result: result, set: effective) }
        quarantine.patch(&result.statuses)
        let elapsed = ContinuousClock.now - start
        let translatedAt = Date()
        Timer(label: "chancery_translation_seconds").recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
        admin.update(
            set: set, result: result, quarantine: quarantine, translatedAt: translatedAt,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        var built: [String: Snapshot] = [:]
        var versions: [String] = []
        // Groups that equal another group come last and reuse its snapshot.
        let order = configs.keys.sorted { (result.identical[$0] != nil ? 1 : 0, $0) < (result.identical[$1] != nil ? 1 : 0, $1) }
        for group in order {
            let proxy = configs[group]!
            do {
                let snapshot = try result.identical[group].flatMap { built[$0] }
                    ?? encoder.snapshot(
                        for: group, listeners: proxy.listeners, scopedRoutes: proxy.scopedRoutes, routes: proxy.routes, clusters: proxy.clusters,
                        endpoints: proxy.endpoints, secrets: proxy.secrets)
                built[group] = snapshot
                if cache.snapshot(for: group).version != snapshot.version { versions.append("\(group) \(snapshot.version)") }
                cache.setSnapshot(snapshot, for: group, seenAt: seenAt, translatedAt: translatedAt)
            } catch {
                logger.error(
                    "translation gave an inconsistent snapshot; the group keeps its last good one",
                    metadata: ["group": "\(group)", "error": "\(error)"])
            }
        }
        // The first translation builds everything: not what a change costs.
        if source != Self.startup { changeCost?.record(ContinuousClock.now - start) }
        for gone in groups.subtracting(configs.keys) {
            cache.removeSnapshot(for: gone)
            encoder.forget(group: gone)
        }
        groups = Set(configs.keys)
        var owners: [String: String] = [:]
        for (group, proxy) in result.mesh where proxy.kind == .sidecar {
            if let identity = proxy.workloads.first?.identity { owners[group] = identity }
        }
        access?.setSidecarOwners(owners)
        // Certificates of workloads no longer served are forgotten.
        meshCA?.keep(only: Set(result.mesh.values.filter { $0.kind == .sidecar }.flatMap { $0.workloads.map(\.identity) }))
        let count = configs.values.reduce(0) { $0 + $1.count }
        // Called only when the world shrank by a quarter: trimming costs a few ms.
        if count < resourceCount * 3 / 4 { ProcessMemory.returnFreePages() }
        resourceCount = count
        for (name, expiry) in result.certificateExpiry {
            Gauge(label: "chancery_certificate_expiry_timestamp_seconds", dimensions: [("secret", name)])
                .record(expiry.timeIntervalSince1970)
        }
        if result.warnings != last?.result.warnings {
            for warning in result.warnings { logger.warning("served, but needs attention", metadata: ["detail": "\(warning)"]) }
        }
        for (key, status) in result.statuses where status.isRejected {
            logger.warning("object not fully accepted", metadata: ["object": "\(key)", "status": "\(Report.summary(status))"])
        }
        logRecoveries(set: set, result: result)
        if !versions.isEmpty || changed?.isEmpty == false {
            let objects = changed.map { keys in
                keys.sorted().prefix(5).map(\.description).joined(separator: ", ") + (keys.count > 5 ? " and \(keys.count - 5) more" : "")
            }
            logger.info(
                "change applied",
                metadata: [
                    "source": "\(source)", "objects": "\(objects ?? "all \(set.manifests.count)")",
                    "versions": "\(versions.isEmpty ? "unchanged" : versions.prefix(10).joined(separator: ", ") + (versions.count > 10 ? " and \(versions.count - 10) more" : ""))",
                    "translation_ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
                ])
        }
        last = (set, result)
        lastEffective = effective
        return result
    }

    /// Files and objects refused by the last translation that now read and are accepted
    /// get a line each, so the log says when a broken file was fixed.
    private func logRecoveries(set: ResourceSet, result: TranslationResult) {
        guard let last else { return }
        struct Place: Hashable {
            let file: String
            let object: ObjectKey?
        }
        let failing = Set(set.errors.map { Place(file: $0.file, object: $0.object) })
        for error in last.set.errors where !failing.contains(Place(file: error.file, object: error.object)) {
            // Gone from the errors because it reads now, not because it was deleted.
            let reads =
                error.object.map { set[$0] != nil } ?? set.manifests.values.contains { $0.origin.file == error.file }
            guard reads else { continue }
            logger.notice(
                "reads again", metadata: ["file": "\(error.file)", "object": "\(error.object.map { "\($0)" } ?? "(the file)")"])
        }
        for (key, status) in last.result.statuses where status.isRejected && result.statuses[key]?.isRejected == false {
            logger.notice("accepted again", metadata: ["object": "\(key)"])
        }
    }

    /// A proxy came in sync: once every proxy of its group holds the group's current
    /// version, one line says so, and how long after the change was seen.
    mutating func proxySynced(group: String, registry: ClientRegistry) {
        let version = cache.snapshot(for: group).version
        guard reportedHeld[group] != version else { return }
        let (proxies, all) = registry.holding(group: group, version: version)
        guard proxies > 0, all else { return }
        reportedHeld[group] = version
        let after = cache.record(for: group, version: version).map { Int(Date().timeIntervalSince($0.seenAt) * 1000) }
        logger.info(
            "every proxy holds the change",
            metadata: [
                "group": "\(group)", "version": "\(version)", "proxies": "\(proxies)",
                "after_ms": "\(after.map(String.init) ?? "?")",
            ])
    }

    /// A proxy rejected a push: quarantines the objects to blame and translates again
    /// without them. Returns the new translation, or nil when nothing was set aside
    /// (already quarantined, or no object can be blamed).
    mutating func rejected(_ rejection: ClientRegistry.Rejected) -> TranslationResult? {
        guard let last, let lastEffective, let plan = last.result.plans[rejection.group] else { return nil }
        let proxyRejection = ProxyRejection(
            proxy: rejection.nodeID, group: rejection.group, kind: rejection.type.resourceKind,
            message: rejection.message, pushed: rejection.pushed, accepted: rejection.accepted)
        let added = quarantine.reject(
            proxyRejection, origins: plan.origins, in: lastEffective, statuses: last.result.statuses, at: Date())
        guard !added.isEmpty else {
            logger.warning(
                "a proxy rejected resources of objects that did not change since every proxy held them; nothing is quarantined",
                metadata: [
                    "proxy": "\(rejection.nodeID)", "group": "\(rejection.group)",
                    "resources": "\(proxyRejection.suspects.map(\.description))", "error": "\(rejection.message)",
                ])
            return nil
        }
        for key in added {
            logger.warning(
                "quarantined: a proxy rejected what this object produced; it is served without this version",
                metadata: ["object": "\(key)", "detail": "\(quarantine.entries[key]?.message ?? "")"])
        }
        return apply(last.set, source: "quarantine", recheck: true)
    }

    /// Every proxy holds its group's current snapshot: the quarantine forgets what
    /// the fleet held before.
    mutating func fleetMayBeInSync(registry: ClientRegistry) {
        guard !quarantine.priors.isEmpty else { return }
        let clients = registry.all
        guard !clients.isEmpty else { return }
        for client in clients where !client.inSync || client.syncedVersion != cache.snapshot(for: client.group).version {
            return
        }
        quarantine.fleetInSync()
    }

    /// See ``corruptAnnotatedForTests``.
    private static func corrupt(_ configs: inout [String: ProxyConfig], result: TranslationResult, set: ResourceSet) {
        for (group, plan) in result.plans {
            guard var config = configs[group] else { continue }
            let origins = plan.origins
            for index in config.routes.indices {
                let objects = origins[ResourceKey(.route, config.routes[index].name)] ?? []
                guard objects.contains(where: { set[$0]?.object.metadata.annotations?[corruptAnnotation] != nil })
                else { continue }
                var route = Envoy_Config_Route_V3_Route()
                route.match.safeRegex.regex = "/(?!corrupt)"
                route.directResponse.status = 200
                var host = Envoy_Config_Route_V3_VirtualHost()
                host.name = "test-corrupt"
                host.domains = ["test-corrupt.invalid"]
                host.routes = [route]
                config.routes[index].virtualHosts.append(host)
            }
            configs[group] = config
        }
    }
}
