import EnvoyAPI

/// What one stream has asked for of one resource type.
struct Subscription: Equatable {
    var wildcard = false
    var names: Set<String> = []

    func covers(_ name: String) -> Bool { wildcard || names.contains(name) }
}

/// A response a session wants written to its stream.
public struct Push: Sendable, Equatable {
    public let type: ResourceType
    public let nonce: String
    /// `version_info` (state of the world) or `system_version_info` (delta).
    public let version: String
    /// Resources sent, sorted by name. State of the world: the whole subscribed set.
    public let resources: [Resource]
    /// Delta only: names the client must forget (or that do not exist).
    public let removed: [String]
    /// State of the world: the push is the snapshot's whole list of the type with the
    /// snapshot's version for it (``Snapshot/sorted(_:)``) and its shared nonce — the
    /// same response for every stream that sends it, so its encoding is shared
    /// (``Snapshot/wholeResponse(_:)``).
    public let whole: Bool
}

/// How a session read a request.
public enum RequestOutcome: Sendable, Equatable {
    /// The first request for a type on this stream.
    case subscribed
    /// The client applied the push with this nonce.
    case ack(nonce: String, version: String)
    /// The client rejected the push with this nonce; Envoy's error text.
    case nack(nonce: String, version: String, message: String)
    /// A request answering an older push: its subscription changes are kept, the rest ignored.
    case stale(nonce: String)
    /// A later request that only changed what the client subscribes to.
    case subscriptionChanged
    /// A type this stream does not serve.
    case unsupportedType(String)
}

/// The xDS protocol for one stream, as a pure state machine: requests and snapshots in,
/// pushes out. No I/O, no clocks, so every rule below is pinned by plain unit tests.
///
/// Rules (Envoy's xds_protocol doc):
/// - one push in flight per type: the next waits for the ACK or NACK of the previous;
/// - a NACK is recorded and the rejected content is not sent again; the next
///   different content is;
/// - on ADS, listeners and routes wait until the clusters and endpoints they may name
///   are ACKed (make-before-break), and clusters and endpoints that were sent stay in
///   place until the listeners and routes that may have named them are ACKed;
/// - listeners are made before they are broken too: while a listener the client has
///   never accepted is in the set (a new name, address or port), the listeners it last
///   accepted stay in the set; they are removed only once the new ones are ACKed, so a
///   listener Envoy cannot bind never costs the port that was serving;
/// - a changed EDS cluster is sent its ClusterLoadAssignment again, even unchanged,
///   because Envoy keeps a re-created cluster warming until it gets one;
/// - state of the world: every first request and every change of subscribed names is
///   answered, even when nothing changed; delta: `initial_resource_versions` and the
///   client's known versions mean only what differs is sent, and subscription changes are
///   honoured even on a stale nonce.
public struct StreamSession: Sendable {
    public enum Mode: Sendable { case stateOfTheWorld, delta }

    struct TypeState {
        var requested = false
        var subscription = Subscription()
        /// Answer the next time this type may push, even if nothing changed.
        var mustRespond = false
        /// Name → version the client has (delta) or was last sent (state of the world).
        var known: [String: String] = [:]
        /// Resource objects last sent, kept so removed clusters can be held back.
        var sent: [String: Resource] = [:]
        /// Listeners: what the client held at its last ACK, kept so that a listener
        /// replaced by one under another name stays until the new one is accepted.
        var confirmed: [String: Resource] = [:]
        /// Nonce of the push awaiting ACK/NACK, and its version.
        var pending: (nonce: String, version: String)?
        var lastNonce: String?
        var lastPushNacked = false
        /// Send these again even if the client has their version.
        var forced: Set<String> = []
        /// Delta: newly subscribed names to answer even if missing (as removed).
        var announce: Set<String> = []
        /// Delta: the names the push awaiting an answer removes, and the names whose
        /// removal the client rejected. A rejected response is not applied, so the client
        /// may still hold those; they are removed again with the type's next content.
        var pendingRemoved: [String] = []
        var rejectedRemovals: Set<String> = []
        /// What the subscription covers of the snapshot, kept up to date as either
        /// changes. When it covers the whole type this is the snapshot's own dictionary,
        /// shared by every such stream.
        var view: [String: Resource] = [:]
        /// The view is the snapshot's whole type, so its version and sorted list are
        /// the snapshot's (computed once, not per stream).
        var viewIsWhole = false
        /// The names where the client's versions and the view's differ (a name in
        /// neither counts as held), when they are few: then what to send is found among
        /// them, not among every resource of the view. Nil when unknown or many.
        var dirty: Set<String>?
        /// `known` names exactly the view's resources at the view's versions: nothing
        /// to send. Lets the many checks made after every event skip comparing every
        /// resource (a thousand streams each re-checking a thousand clusters was most
        /// of fan-out's time).
        var synced: Bool { dirty?.isEmpty ?? false }
        /// The newest snapshot whose shared nonce this type was pushed with. Only a newer
        /// snapshot's is used again: a stream sent one snapshot's whole list twice (its
        /// subscription changed meanwhile), or an older snapshot again (`Snapshot.empty`
        /// when a group is removed, or a snapshot shared with another group), gets a
        /// nonce of its own, so no two pushes share a nonce.
        var sharedNonceSerial: UInt64 = 0
    }

    public let mode: Mode
    /// Types served by this stream: all of them on ADS, one on a per-type service.
    public let served: Set<ResourceType>
    private(set) var snapshot: Snapshot
    private(set) var types: [ResourceType: TypeState] = [:]
    private var nonceCounter: UInt64 = 0
    /// Envoy subscribes to the endpoints of every EDS cluster it was sent (recomputed
    /// when the snapshot, the clusters sent or the endpoint subscription change).
    private var endpointsCoverClusters = true

    public init(mode: Mode, served: Set<ResourceType> = Set(ResourceType.allCases), snapshot: Snapshot = .empty) {
        self.mode = mode
        self.served = served
        self.snapshot = snapshot
    }

    // MARK: events

    /// A new snapshot for the stream's group: returns what to push now.
    public mutating func update(_ snapshot: Snapshot) -> [Push] {
        let previous = self.snapshot
        self.snapshot = snapshot
        // A type whose version is unchanged has the same names at the same versions,
        // so its view still holds. A snapshot made from the last one says which names
        // changed: only those are read again.
        let names = snapshot.changedNames(since: previous)
        var changed = false
        for type in ResourceType.allCases where types[type] != nil && previous.versions[type] != snapshot.versions[type] {
            if !types[type]!.rejectedRemovals.isEmpty {
                var state = types.removeValue(forKey: type)!
                state.announce.formUnion(state.rejectedRemovals.filter(state.subscription.covers))
                state.rejectedRemovals = []
                types[type] = state
            }
            if let names = names?[type] { refreshView(type, changed: names) } else { refreshView(type) }
            changed = changed || type == .cluster || type == .endpoint
        }
        if changed { refreshCoverage() }
        return pump()
    }

    /// A state-of-the-world request.
    public mutating func receive(
        typeURL: String, versionInfo: String, nonce: String, names: [String], errorMessage: String?
    ) -> (RequestOutcome, [Push]) {
        guard let type = ResourceType(typeURL: typeURL), served.contains(type) else {
            return (.unsupportedType(typeURL), [])
        }
        var state = types.removeValue(forKey: type) ?? TypeState()
        var outcome: RequestOutcome
        let wanted = subscription(for: type, names: names)
        let refresh = !state.requested || wanted != state.subscription
        if !state.requested {
            state.requested = true
            state.mustRespond = true
            outcome = .subscribed
        } else if !nonce.isEmpty, nonce != state.lastNonce {
            outcome = .stale(nonce: nonce)
        } else {
            outcome = Self.settle(&state, nonce: nonce, version: versionInfo, errorMessage: errorMessage)
        }
        if wanted != state.subscription, state.requested {
            // Names changed: state of the world answers with the new set, even if unchanged.
            state.mustRespond = true
        }
        state.subscription = wanted
        types[type] = state
        // Most requests are ACKs naming what they named before: nothing to refresh.
        if refresh {
            refreshView(type)
            if type == .cluster || type == .endpoint { refreshCoverage() }
        }
        return (outcome, pump())
    }

    /// A delta request.
    public mutating func receiveDelta(
        typeURL: String, nonce: String, subscribe: [String], unsubscribe: [String],
        initialVersions: [String: String], errorMessage: String?
    ) -> (RequestOutcome, [Push]) {
        guard let type = ResourceType(typeURL: typeURL), served.contains(type) else {
            return (.unsupportedType(typeURL), [])
        }
        var state = types.removeValue(forKey: type) ?? TypeState()
        let outcome: RequestOutcome
        if !state.requested {
            state.requested = true
            state.mustRespond = true
            state.subscription = shared(Self.subscription(for: type, names: subscribe), type)
            state.known = initialVersions.filter { state.subscription.covers($0.key) }
            // Names asked for by name are answered even when missing, so Envoy's
            // initial fetch does not wait for its timeout.
            state.announce = state.subscription.names
            outcome = .subscribed
        } else {
            if nonce.isEmpty {
                outcome = .subscriptionChanged
            } else if nonce != state.lastNonce {
                outcome = .stale(nonce: nonce)
            } else {
                outcome = Self.settle(&state, nonce: nonce, version: nil, errorMessage: errorMessage)
            }
            // Subscription changes count whatever the nonce.
            for name in subscribe {
                if name == "*" {
                    state.subscription.wildcard = true
                } else if state.subscription.names.insert(name).inserted {
                    state.announce.insert(name)
                }
            }
            for name in unsubscribe {
                if name == "*" {
                    state.subscription.wildcard = false
                } else {
                    state.subscription.names.remove(name)
                }
            }
            // The client forgets what it unsubscribed from: nothing of it is held back.
            if unsubscribe.contains("*") {
                state.known = state.known.filter { state.subscription.covers($0.key) }
                state.sent = state.sent.filter { state.subscription.covers($0.key) }
                state.confirmed = state.confirmed.filter { state.subscription.covers($0.key) }
                state.announce = state.announce.filter { state.subscription.covers($0) }
            } else {
                for name in unsubscribe where !state.subscription.covers(name) {
                    state.known.removeValue(forKey: name)
                    state.sent.removeValue(forKey: name)
                    state.confirmed.removeValue(forKey: name)
                    state.announce.remove(name)
                }
            }
        }
        types[type] = state
        if outcome == .subscribed || subscribe.contains("*") || unsubscribe.contains("*") {
            refreshView(type)
        } else if !subscribe.isEmpty || !unsubscribe.isEmpty {
            refreshView(type, changed: subscribe + unsubscribe)
        }
        if outcome == .subscribed || !subscribe.isEmpty || !unsubscribe.isEmpty, type == .cluster || type == .endpoint {
            refreshCoverage()
        }
        return (outcome, pump())
    }

    /// A state-of-the-world request as it arrives: the type it is for (nil if none this
    /// stream serves), what it was, and what to push. A per-type service may leave the
    /// type URL empty.
    public mutating func receive(
        _ request: Envoy_Service_Discovery_V3_DiscoveryRequest
    ) -> (ResourceType?, RequestOutcome, [Push]) {
        let typeURL = request.typeURL.isEmpty && served.count == 1 ? served.first!.typeURL : request.typeURL
        let (outcome, pushes) = receive(
            typeURL: typeURL, versionInfo: request.versionInfo, nonce: request.responseNonce,
            names: request.resourceNames, errorMessage: request.hasErrorDetail ? request.errorDetail.message : nil)
        return (ResourceType(typeURL: typeURL), outcome, pushes)
    }

    /// A delta request as it arrives (see the state-of-the-world one).
    public mutating func receive(
        _ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
    ) -> (ResourceType?, RequestOutcome, [Push]) {
        let typeURL = request.typeURL.isEmpty && served.count == 1 ? served.first!.typeURL : request.typeURL
        let (outcome, pushes) = receiveDelta(
            typeURL: typeURL, nonce: request.responseNonce,
            subscribe: request.resourceNamesSubscribe, unsubscribe: request.resourceNamesUnsubscribe,
            initialVersions: request.initialResourceVersions,
            errorMessage: request.hasErrorDetail ? request.errorDetail.message : nil)
        return (ResourceType(typeURL: typeURL), outcome, pushes)
    }

    /// Recomputes a type's view of the snapshot and whether the client already holds it.
    private mutating func refreshView(_ type: ResourceType) {
        guard var state = types.removeValue(forKey: type) else { return }
        defer { types[type] = state }
        let all = snapshot[type]
        let names = state.subscription.names
        if state.subscription.wildcard || (all.count <= names.count && all.keys.allSatisfy(names.contains)) {
            state.view = all
            state.viewIsWhole = true
        } else {
            state.view = all.filter { names.contains($0.key) }
            state.viewIsWhole = false
        }
        // The names where the client's versions and the view's differ, while they are
        // few (a stream's first view differs everywhere: no set of it is made).
        var differing: Set<String>? = []
        var held = 0
        for (name, resource) in state.view {
            let known = state.known[name]
            if known != nil { held += 1 }
            guard known != resource.version else { continue }
            differing!.insert(name)
            if differing!.count > Self.dirtyLimit {
                differing = nil
                break
            }
        }
        // Names the client holds that the view lacks (none when it holds as many of the
        // view's names as it holds names).
        if differing != nil, held < state.known.count {
            for name in state.known.keys where state.view[name] == nil {
                differing!.insert(name)
                if differing!.count > Self.dirtyLimit {
                    differing = nil
                    break
                }
            }
        }
        state.dirty = differing
    }

    /// How many names a type's ``TypeState/dirty`` holds at most.
    static let dirtyLimit = 256

    /// Refreshes a type's view where it can have changed only at `names`: a snapshot that
    /// differs from the last one only in those resources (added, changed or removed), or
    /// a delta subscription that gained or lost only those names. The view and what the
    /// client holds are read again at those names alone.
    private mutating func refreshView(_ type: ResourceType, changed names: some Collection<String>) {
        guard var state = types.removeValue(forKey: type) else { return }
        guard var dirty = state.dirty else {
            types[type] = state
            refreshView(type)
            return
        }
        defer { types[type] = state }
        let all = snapshot[type]
        if state.subscription.wildcard {
            state.view = all
            state.viewIsWhole = true
        } else if state.viewIsWhole {
            // Every other name of the type was covered, and still is.
            state.view = all
            for name in names where all[name] != nil && !state.subscription.names.contains(name) {
                state.view.removeValue(forKey: name)
                state.viewIsWhole = false
            }
        } else {
            for name in names { state.view[name] = state.subscription.names.contains(name) ? all[name] : nil }
            // The view is a part of the type: as large, it is all of it.
            if state.view.count == all.count {
                state.view = all
                state.viewIsWhole = true
            }
        }
        dirty.formUnion(names)
        dirty = dirty.filter { state.known[$0] != state.view[$0]?.version }
        state.dirty = dirty.count <= Self.dirtyLimit ? dirty : nil
    }

    private mutating func refreshCoverage() { endpointsCoverClusters = workedOutCoverage() }

    /// Whether the endpoint subscription covers every EDS cluster sent that has endpoints.
    private func workedOutCoverage() -> Bool {
        guard let clusters = types[.cluster], clusters.requested else { return true }
        let endpoints = types[.endpoint]?.subscription ?? Subscription()
        if endpoints.wildcard { return true }
        for name in clusters.known.keys {
            guard let service = snapshot.edsServiceNames[name], snapshot[.endpoint][service] != nil else { continue }
            if !endpoints.covers(service) { return false }
        }
        return true
    }

    /// A subscription naming exactly the snapshot's resources of its type (Envoy asks
    /// for the endpoints of every cluster and the routes of every listener it holds)
    /// uses the snapshot's own set of names: a thousand streams then hold one set, not
    /// a thousand copies of every name.
    private func shared(_ subscription: Subscription, _ type: ResourceType) -> Subscription {
        guard !subscription.wildcard, subscription.names.count == snapshot[type].count else { return subscription }
        let names = snapshot.names(type)
        return names == subscription.names ? Subscription(wildcard: false, names: names) : subscription
    }

    /// What a state-of-the-world request subscribes to. Most requests are ACKs naming
    /// every resource of the type: those get the snapshot's shared set without a set
    /// of their own being built (and compare equal to a subscription already holding
    /// it by identity, not name by name).
    private func subscription(for type: ResourceType, names: [String]) -> Subscription {
        // A resource named "*" would make `["*"]` a wildcard, not a name.
        if snapshot[type]["*"] == nil, snapshot.namesExactly(names, type) {
            return Subscription(wildcard: false, names: snapshot.names(type))
        }
        return shared(Self.subscription(for: type, names: names), type)
    }

    private static func subscription(for type: ResourceType, names: [String]) -> Subscription {
        // Legacy wildcard: an LDS/CDS stream that names nothing wants everything.
        let explicit = names.contains("*")
        let legacy = names.isEmpty && type.isWildcardType
        return Subscription(wildcard: explicit || legacy, names: Set(names.filter { $0 != "*" }))
    }

    /// Reads the response to our latest push: an ACK, or a NACK if Envoy sent an error.
    private static func settle(
        _ state: inout TypeState, nonce: String, version: String?, errorMessage: String?
    ) -> RequestOutcome {
        guard let pending = state.pending, pending.nonce == nonce else {
            // Already settled: a repeated request for the same push.
            return .subscriptionChanged
        }
        state.pending = nil
        let removed = state.pendingRemoved
        state.pendingRemoved = []
        if let errorMessage {
            state.lastPushNacked = true
            state.rejectedRemovals.formUnion(removed)
            return .nack(nonce: nonce, version: pending.version, message: errorMessage)
        }
        state.lastPushNacked = false
        // The client holds what it was sent (delta: `sent` is everything it was sent).
        state.confirmed = state.sent
        return .ack(nonce: nonce, version: version ?? pending.version)
    }

    // MARK: deciding what to push

    /// Resources the client should hold of a type, given its subscription, the snapshot
    /// and what must be kept for make-before-break.
    func desired(_ type: ResourceType) -> [String: Resource] {
        desired(type, routingInFlight: routingInFlight)
    }

    /// `routingInFlight` is passed in so that one pass over the stream's types computes it
    /// once: it scans every listener and route, and a pump asks for it per type.
    private func desired(_ type: ResourceType, routingInFlight: Bool) -> [String: Resource] {
        guard let state = types[type] else { return [:] }
        // The client holds the view: whatever it was sent that is still covered is in
        // the view, so there is nothing to hold back.
        if state.synced { return state.view }
        var result = state.view
        let holding =
            switch type {
            case .cluster: routingInFlight
            case .endpoint: routingInFlight || types[.cluster]?.pending != nil
            case .scopedRoute: listenersWarming
            default: false
            }
        if holding {
            for (name, resource) in state.sent where result[name] == nil && state.subscription.covers(name) {
                result[name] = resource
            }
        }
        if type == .listener, !state.confirmed.isEmpty, result.keys.contains(where: { state.confirmed[$0] == nil }) {
            for (name, resource) in state.confirmed where result[name] == nil && state.subscription.covers(name) {
                result[name] = resource
            }
        }
        return result
    }

    /// Listeners or routes not yet ACKed at the snapshot's content, or a route
    /// configuration a listener names that the proxy does not hold yet: scopes it was
    /// sent stay until then. A listener leaving the scoped layout (or one whose scopes
    /// move to another listener) keeps serving from its old connection manager, and so
    /// from those scopes, until its new one has warmed with the routes it names.
    private var listenersWarming: Bool {
        if inFlight(.listener) || inFlight(.route) { return true }
        let routes = types[.route]
        for listener in snapshot[.listener].values {
            for reference in listener.references where reference.type == .route {
                if routes?.known[reference.name] != snapshot[.route][reference.name]?.version { return true }
            }
        }
        return false
    }

    /// Listeners or routes not yet ACKed at the snapshot's content: the clusters they
    /// may still name must stay (and their endpoints, until the cluster removal is ACKed).
    private var routingInFlight: Bool {
        inFlight(.listener) || inFlight(.scopedRoute) || inFlight(.route)
    }

    /// A type the client asked for whose last push is not yet answered, or whose view
    /// differs from what the client holds.
    private func inFlight(_ type: ResourceType) -> Bool {
        guard let state = types[type], state.requested else { return false }
        return state.pending != nil || !changes(type, desired: state.view).isEmpty
    }

    private struct Changes {
        var updated: [Resource] = []
        var removed: [String] = []
        var isEmpty: Bool { updated.isEmpty && removed.isEmpty }
    }

    private func changes(_ type: ResourceType, desired: [String: Resource]) -> Changes {
        guard let state = types[type] else { return Changes() }
        if state.synced, state.forced.isEmpty, state.announce.isEmpty { return Changes() }
        var changes = Changes()
        // Sending the view (nothing held back; `desired` holds the view): outside the
        // dirty names the client holds it already, so only those, and those forced or
        // announced, can be sent or removed.
        if let dirty = state.dirty, desired.count == state.view.count {
            for name in dirty.union(state.forced) {
                if let resource = desired[name] {
                    if state.known[name] != resource.version || state.forced.contains(name) {
                        changes.updated.append(resource)
                    }
                } else if mode == .delta || state.subscription.wildcard, state.known[name] != nil {
                    changes.removed.append(name)
                }
            }
        } else {
            for (name, resource) in desired where state.known[name] != resource.version || state.forced.contains(name) {
                changes.updated.append(resource)
            }
            // State of the world names only what a wildcard type still has: a resource
            // missing from an EDS or RDS response is not deleted, so a removal alone is no
            // reason to push there.
            if mode == .delta || state.subscription.wildcard {
                for name in state.known.keys where desired[name] == nil {
                    changes.removed.append(name)
                }
            }
        }
        if mode == .delta {
            for name in state.announce where desired[name] == nil && state.known[name] == nil {
                changes.removed.append(name)
            }
        }
        changes.updated.sort { $0.name < $1.name }
        changes.removed.sort()
        return changes
    }

    /// Clusters and endpoints are settled when nothing is in flight or waiting for
    /// them, and Envoy has subscribed to the endpoints of every EDS cluster it was sent.
    private func clustersSettled(routingInFlight: Bool) -> Bool {
        for type in [ResourceType.cluster, .endpoint] {
            guard let state = types[type], state.requested, served.contains(type) else { continue }
            if state.pending != nil || state.mustRespond
                || !changes(type, desired: desired(type, routingInFlight: routingInFlight)).isEmpty
            {
                return false
            }
        }
        guard served.contains(.endpoint), let clusters = types[.cluster], clusters.requested,
            !clusters.lastPushNacked
        else { return true }
        return endpointsCoverClusters
    }

    private mutating func pump() -> [Push] {
        var pushes: [Push] = []
        // Listener and route state does not change until their own turn below, so
        // whether routing is in flight holds for the whole pass; whether clusters are
        // settled is decided once, after their own pushes.
        let inFlight = routingInFlight
        var settled: Bool?
        for type in ResourceType.allCases {
            guard let state = types[type], state.requested, state.pending == nil else { continue }
            if type == .listener || type == .scopedRoute || type == .route {
                if settled == nil { settled = clustersSettled(routingInFlight: inFlight) }
                if settled == false { continue }
            }
            let desired = desired(type, routingInFlight: inFlight)
            let changes = changes(type, desired: desired)
            guard state.mustRespond || !changes.isEmpty else { continue }
            pushes.append(push(type, desired: desired, changes: changes))
        }
        return pushes
    }

    private mutating func push(_ type: ResourceType, desired: [String: Resource], changes: Changes) -> Push {
        nonceCounter += 1
        var nonce = String(nonceCounter)
        var state = types.removeValue(forKey: type)!
        // desired ⊇ view, so equal counts mean the client is sent exactly its view.
        let exactlyView = desired.count == state.view.count
        // The whole type: the snapshot's version and sorted list, shared by all streams.
        let whole = exactlyView && state.viewIsWhole
        let version = whole ? snapshot.versions[type]! : ContentHash.of(resources: desired.values)
        let push: Push
        switch mode {
        case .stateOfTheWorld:
            // With the snapshot's nonce for it, the response is the same for every stream.
            let shared = whole && snapshot.serial > state.sharedNonceSerial
            if shared {
                nonce = snapshot.sharedNonce(type)
                state.sharedNonceSerial = snapshot.serial
            }
            push = Push(
                type: type, nonce: nonce, version: version,
                resources: whole ? snapshot.sorted(type) : desired.values.sorted { $0.name < $1.name }, removed: [],
                whole: shared)
            state.known = whole ? snapshot.versionsByName(type) : desired.mapValues(\.version)
            state.sent = desired
        case .delta:
            push = Push(
                type: type, nonce: nonce, version: version, resources: changes.updated, removed: changes.removed,
                whole: false)
            if exactlyView {
                // What the client holds is the view: share it (and, for a whole type,
                // the snapshot's version map) rather than keep a copy per stream, or
                // change a copy of the last one name by name.
                state.sent = state.view
            } else {
                for resource in changes.updated { state.sent[resource.name] = resource }
                for name in changes.removed { state.sent.removeValue(forKey: name) }
            }
            if whole {
                state.known = snapshot.versionsByName(type)
            } else {
                for resource in changes.updated { state.known[resource.name] = resource.version }
                for name in changes.removed { state.known.removeValue(forKey: name) }
            }
        }
        state.pending = (nonce, version)
        state.pendingRemoved = push.removed
        state.lastNonce = nonce
        state.mustRespond = false
        state.forced = []
        state.announce = []
        // Both modes: `known` is now exactly `desired`, so it differs from the view
        // nowhere when that is the view, and in unknown places otherwise.
        state.dirty = exactlyView ? [] : nil
        types[type] = state
        if type == .cluster {
            forceEndpoints(of: changes.updated)
            refreshCoverage()
        }
        return push
    }

    /// Envoy re-creates a changed cluster and keeps it warming until a
    /// ClusterLoadAssignment arrives for it, so send those again.
    private mutating func forceEndpoints(of clusters: [Resource]) {
        guard var endpoints = types.removeValue(forKey: .endpoint) else { return }
        for cluster in clusters {
            if let service = snapshot.edsServiceNames[cluster.name], endpoints.known[service] != nil {
                endpoints.forced.insert(service)
            }
        }
        types[.endpoint] = endpoints
    }

    // MARK: inspection

    /// The version of the snapshot this stream works from.
    public var snapshotVersion: String { snapshot.version }

    /// Whether the proxy holds exactly what the snapshot gives it: every type it asked
    /// for has been pushed, nothing is in flight or waiting, and nothing was rejected.
    public var isInSync: Bool {
        guard types.values.contains(where: \.requested) else { return false }
        // Cheap checks first: most calls find something pending.
        for state in types.values where state.requested {
            if state.pending != nil || state.mustRespond || state.lastPushNacked { return false }
        }
        let inFlight = routingInFlight
        for (type, state) in types where state.requested {
            if !changes(type, desired: desired(type, routingInFlight: inFlight)).isEmpty { return false }
        }
        return true
    }

    /// The version last pushed and the version last ACKed, per type (for the registry).
    public func pendingNonce(_ type: ResourceType) -> String? { types[type]?.pending?.nonce }

    // MARK: checks

    /// Where the state kept to answer quickly (views, `synced`, endpoint coverage)
    /// differs from the same facts worked out from scratch; empty when consistent.
    /// Tests call it after every event of long random runs, and the fuzzer after every
    /// request (`Fuzz/XDSRequest`).
    public func cacheViolations() -> [String] {
        var problems: [String] = []
        for (type, state) in types where state.requested {
            let fresh = snapshot[type].filter { state.subscription.covers($0.key) }
            if fresh.mapValues(\.version) != state.view.mapValues(\.version) {
                problems.append("\(type): view differs from the snapshot's covered resources")
            }
            if state.viewIsWhole, Set(state.view.keys) != Set(snapshot[type].keys) {
                problems.append("\(type): view marked whole but is not the whole type")
            }
            let holds = state.known == fresh.mapValues(\.version)
            if holds != state.synced { problems.append("\(type): synced is \(state.synced), client holds view: \(holds)") }
            if let dirty = state.dirty {
                var differing = Set(fresh.keys.filter { state.known[$0] != fresh[$0]?.version })
                differing.formUnion(state.known.keys.filter { fresh[$0] == nil })
                if !differing.isSubset(of: dirty) {
                    problems.append("\(type): differs from the view at \(differing.subtracting(dirty).sorted()), outside its dirty names")
                }
            }
            if state.synced {
                let held = state.sent.keys.filter { fresh[$0] == nil && state.subscription.covers($0) }
                if !held.isEmpty { problems.append("\(type): synced but would hold back \(held.sorted())") }
            }
        }
        let covered = workedOutCoverage()
        if covered != endpointsCoverClusters {
            problems.append("endpoint coverage is \(endpointsCoverClusters), worked out afresh: \(covered)")
        }
        return problems
    }
}
