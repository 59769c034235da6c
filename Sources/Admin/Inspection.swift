import EnvoyBuild
import Foundation
import GatewayModel
import Hummingbird
import IR
import NIOCore
import Translation
import XDS

/// How candidate manifests are translated for `chancery plan`: with the options the
/// server translates its own objects with, so that the plan shows what serving them would.
public struct Planner: Sendable {
    public var gatewayAddresses: [AddressRange]?
    public var reservedPorts: Set<Int>
    public var limits: SourceLimits
    public var ingressPorts: IngressPorts
    /// The mesh's trust domain (`--trust-domain`).
    public var trustDomain: String
    /// The mesh CA `serve` issues workload certificates with: a plan's sidecars get the
    /// certificates they are served, so a plan shows no change where there is none.
    public var meshCertificates: (any MeshCertificateSource)?
    /// How `serve` lays out routes (`--route-layout`).
    public var routeLayout: RouteLayout

    public init(
        gatewayAddresses: [AddressRange]? = nil, reservedPorts: Set<Int> = [], limits: SourceLimits = .defaults,
        ingressPorts: IngressPorts = IngressPorts(), trustDomain: String = Translator.defaultTrustDomain,
        meshCertificates: (any MeshCertificateSource)? = nil, routeLayout: RouteLayout = .single
    ) {
        self.meshCertificates = meshCertificates
        self.routeLayout = routeLayout
        self.gatewayAddresses = gatewayAddresses
        self.reservedPorts = reservedPorts
        self.limits = limits
        self.ingressPorts = ingressPorts
        self.trustDomain = trustDomain
    }
}

/// The inspection API behind `chancery describe`, `config-dump`, `diff` and `plan`.
extension AdminServer {
    /// The largest plan request read (the candidate files, as JSON).
    static let maxPlanBytes = 64 << 20

    /// Every resource that differs between two snapshots, with a unified diff of its
    /// Envoy JSON (keys sorted, secrets redacted).
    func resourceChanges(_ before: Snapshot, _ after: Snapshot, from: String, to: String) -> [Views.ResourceChange] {
        var changes: [Views.ResourceChange] = []
        for type in ResourceType.allCases {
            let old = before[type]
            let new = after[type]
            for name in Set(old.keys).union(new.keys).sorted() {
                let a = old[name]
                let b = new[name]
                guard a?.version != b?.version else { continue }
                let key = ResourceKey(type.resourceKind, name).description
                let change = a == nil ? "added" : b == nil ? "removed" : "changed"
                let diff = LineDiff.unified(
                    a.map(prettyJSON) ?? "", b.map(prettyJSON) ?? "", from: "\(key) (\(from))", to: "\(key) (\(to))")
                changes.append(Views.ResourceChange(resource: key, change: change, diff: diff))
            }
        }
        return changes
    }

    /// The resource as indented Envoy JSON, one field a line, so that diffs are readable.
    func prettyJSON(_ resource: Resource) -> String {
        do {
            let data = try JSONSerialization.data(
                withJSONObject: try jsonObject(resource), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        } catch {
            return "(cannot render \(resource.type.shortName) \(resource.name): \(error))\n"
        }
    }

    // MARK: plan

    func planResponse(_ request: Views.PlanRequest) throws -> Response {
        guard let current = state.current else {
            return error(.serviceUnavailable, "not_ready", "nothing is served yet: \(state.readiness.reason)")
        }
        return try json(plan(request, against: current))
    }

    /// Translates the served objects with the candidate's laid over them (or the candidate
    /// alone, with `prune`) and compares the result with what each group serves now.
    func plan(_ request: Views.PlanRequest, against current: AdminState.Current) -> Views.Plan {
        let prune = request.prune ?? false
        // The files as the file source reads them: each within the size limits, an object
        // defined twice reported (the first is used).
        var files = ResourceSet()
        for file in request.files {
            guard file.content.utf8.count <= planner.limits.maxFileBytes else {
                files.report(
                    ManifestError(
                        file: file.path, line: 1,
                        message: "not read: the file is \(SourceLimits.describe(file.content.utf8.count)), over the limit of \(SourceLimits.describe(planner.limits.maxFileBytes)) (--max-file-size)"))
                continue
            }
            let decoded = ManifestDecoder.decode(file: file.path, contents: file.content, maxObjectBytes: planner.limits.maxObjectBytes)
            if let fileError = decoded.fileError { files.report(fileError) }
            for error in decoded.errors { files.report(error) }
            for manifest in decoded.manifests { files.insert(manifest) }
        }
        let fromFiles = Set(files.manifests.keys)
        var candidate = files
        if !prune {
            for key in current.set.manifests.keys.sorted() where files[key] == nil { candidate.insert(current.set[key]!) }
        }
        candidate = candidate.capped(perKind: planner.limits.maxObjectsPerKind)
        // As the pipeline translates: quarantined objects that stay as they are, as the
        // fleet last held them.
        var quarantine = current.quarantineState
        let effective = quarantine.apply(to: candidate).set
        var translator = Translator(
            gatewayAddresses: planner.gatewayAddresses, reservedPorts: planner.reservedPorts, ingressPorts: planner.ingressPorts)
        translator.trustDomain = planner.trustDomain
        var result = translator.translate(effective)
        quarantine.patch(&result.statuses)
        let configs = EnvoyBuilder(meshCertificates: planner.meshCertificates, routeLayout: planner.routeLayout).build(result.plans, identical: result.identical)
        let encoder = SnapshotEncoder()

        var groups: [Views.PlanGroup] = []
        var inconsistent = false
        for group in Set(configs.keys).union(cache.groups).sorted() {
            let served = cache.groups.contains(group) ? cache.snapshot(for: group) : nil
            var planned: Snapshot?
            var failure: String?
            if let proxy = configs[group] {
                do {
                    planned = try encoder.snapshot(
                        for: group, listeners: proxy.listeners, scopedRoutes: proxy.scopedRoutes, routes: proxy.routes, clusters: proxy.clusters,
                        endpoints: proxy.endpoints, secrets: proxy.secrets)
                } catch {
                    failure = "\(error)"
                    inconsistent = true
                }
            }
            let changes = resourceChanges(served ?? .empty, planned ?? .empty, from: "served", to: "planned")
            guard !changes.isEmpty || failure != nil || (served == nil) != (planned == nil) else { continue }
            groups.append(
                Views.PlanGroup(
                    group: group, serving: served?.version, planned: planned?.version, changes: failure == nil ? changes : [],
                    error: failure))
        }

        var objects: [Views.PlanObject] = []
        // A group that would keep what it serves does not take the change.
        var wouldReject = !result.readErrors.isEmpty || inconsistent
        var keys = Set(current.result.statuses.keys).union(result.statuses.keys).union(fromFiles)
        keys.formUnion(Set(current.set.manifests.keys).symmetricDifference(candidate.manifests.keys))
        for key in keys.sorted() {
            let before = current.set[key]
            let after = candidate[key]
            let change =
                before == nil && after == nil
                ? "unchanged" : before == nil ? "added" : after == nil ? "removed" : before!.object != after!.object ? "changed" : "unchanged"
            let was = current.result.statuses[key].map(Report.lines) ?? []
            let will = result.statuses[key].map(Report.lines) ?? []
            guard change != "unchanged" || was != will else { continue }
            let rejected = result.statuses[key]?.isRejected ?? false
            // An object already rejected that the files leave alone is not this plan's doing.
            if rejected, change != "unchanged" || current.result.statuses[key]?.isRejected != true { wouldReject = true }
            objects.append(
                Views.PlanObject(
                    kind: key.kind.rawValue, namespace: key.namespace.isEmpty ? nil : key.namespace, name: key.name,
                    change: change, origin: (after ?? before)?.origin.description, before: was, after: will,
                    rejected: rejected))
        }
        return Views.Plan(
            groups: groups, objects: objects, readErrors: result.readErrors.map(\.description), wouldReject: wouldReject,
            prune: prune, files: request.files.count, objectsRead: fromFiles.count)
    }

    // MARK: describe

    /// `/api/v1/objects/{kind}/{namespace}/{name}` or `…/{kind}/{name}` (cluster-scoped).
    func describeRoute(_ parts: [String]) throws -> Response {
        guard parts.count == 2 || parts.count == 3 else {
            return error(.notFound, "bad_path", "use /api/v1/objects/KIND/NAMESPACE/NAME, or /api/v1/objects/KIND/NAME for cluster-scoped kinds")
        }
        guard let kind = Kind.allCases.first(where: { $0.rawValue.lowercased() == parts[0].lowercased() }) else {
            return error(
                .notFound, "unknown_kind", "no kind \"\(parts[0])\"; kinds: \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let key = ObjectKey(kind, namespace: parts.count == 3 ? parts[1] : "", name: parts[parts.count - 1])
        guard let current = state.current,
            let object = objects(kind: kind.rawValue, namespace: key.namespace, onlyRejected: false).objects.first(where: {
                $0.name == key.name
            })
        else {
            return error(.notFound, "unknown_object", "no \(key) is read or has a status")
        }
        var carriers: [Views.Carrier] = []
        for (group, plan) in current.result.plans.sorted(by: { $0.key < $1.key }) {
            let resources = plan.origins.filter { $0.value.contains(key) }.keys.map(\.description).sorted()
            guard !resources.isEmpty else { continue }
            carriers.append(
                Views.Carrier(
                    group: group, version: cache.snapshot(for: group).version, resources: resources,
                    proxies: registry.clients(inGroup: group).map { Views.CarrierProxy(nodeID: $0.nodeID, inSync: $0.inSync) }
                        .sorted { $0.nodeID < $1.nodeID }))
        }
        return try json(Views.Described(object: object, carriedBy: carriers))
    }

    // MARK: config dump

    /// `/api/v1/clients/{node}/config[?type=]`: for each type, the resources of the version
    /// the proxy last ACKed (those it subscribed to), as Envoy JSON.
    func clientRoute(_ parts: [String], query: Parameters) throws -> Response {
        var segments = parts.map { $0.removingPercentEncoding ?? $0 }
        guard segments.last == "config", segments.count >= 2 else {
            return error(.notFound, "bad_path", "use /api/v1/clients/NODE/config[?type=\(ResourceType.allCases.map(\.plural).joined(separator: "|"))]")
        }
        segments.removeLast()
        let node = segments.joined(separator: "/")
        let streams = registry.client(nodeID: node)
        guard let first = streams.first else {
            let nodes = Set(registry.all.map(\.nodeID)).sorted()
            return error(
                .notFound, "unknown_proxy",
                "no connected proxy has node id \"\(node)\"; connected: \(nodes.isEmpty ? "(none)" : nodes.joined(separator: ", "))")
        }
        let wanted = query.get("type")
        let types = ResourceType.allCases.filter {
            wanted == nil || wanted == $0.plural || wanted == $0.shortName || wanted == $0.resourceKind.rawValue
        }
        guard !types.isEmpty else {
            return error(.badRequest, "unknown_type", "no type \"\(wanted ?? "")\"; types: \(ResourceType.allCases.map(\.plural).joined(separator: ", "))")
        }
        var body: [String: Any] = ["node": node, "group": first.group]
        for type in types {
            // Per-type services open one stream a type; ADS carries them all on one.
            guard let (client, status) = streams.lazy.compactMap({ c in c.types[type].map { (c, $0) } }).first else { continue }
            guard let version = status.ackedVersion, !version.isEmpty else {
                body[type.plural] = ["error": "nothing of this type ACKed yet"]
                continue
            }
            // State of the world ACKs the type's own version; delta the snapshot's.
            guard
                let record = cache.history(for: client.group).last(where: {
                    $0.version == version || $0.snapshot.versions[type] == version
                })
            else {
                body[type.plural] = ["version": version, "error": "version \(version) is no longer in the group's recent history"]
                continue
            }
            let subscribed = status.subscribed.map(Set.init)
            var items: [Any] = []
            for resource in record.snapshot[type].values.sorted(by: { $0.name < $1.name })
            where subscribed?.contains(resource.name) ?? true {
                items.append(["name": resource.name, "version": resource.version, "resource": try jsonObject(resource)])
            }
            var entry: [String: Any] = ["version": version, "resources": items]
            if let at = status.ackedAt { entry["ackedAt"] = at.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
            body[type.plural] = entry
        }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
