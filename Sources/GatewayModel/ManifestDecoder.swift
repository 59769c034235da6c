import Foundation
import Yams

/// Reads Kubernetes manifests — multi-document YAML or JSON, as `kubectl get -o yaml`
/// prints them, `List` objects included — into typed objects.
///
/// A file that is not valid YAML fails as a whole (``Result/fileError``), so a caller can
/// keep what it loaded from that file before. Within a valid file each object stands
/// alone: an invalid one is reported with its line and field path, the others load.
/// Kinds Chancery does not read (Deployments, ConfigMaps, …) are skipped; fields it does
/// not know are ignored, as Kubernetes does.
public enum ManifestDecoder {
    public struct Result: Sendable {
        public var manifests: [Manifest] = []
        /// Objects rejected one by one.
        public var errors: [ManifestError] = []
        /// The file as a whole could not be parsed.
        public var fileError: ManifestError?
    }

    private static let resolver = Resolver.basic.appending(.merge)
    /// One decoder for every object: creating one reads the process environment (for
    /// Yams' default encoding), which cost more than decoding a small object. It is
    /// never mutated, and decoding keeps its state in per-call values.
    nonisolated(unsafe) private static let decoder = YAMLDecoder(encoding: .utf8)

    /// - Parameter maxObjectBytes: an object whose scalars (keys and values) add up to
    ///   more bytes than this is refused by itself.
    public static func decode(file: String, contents: String, maxObjectBytes: Int? = nil) -> Result {
        var result = Result()
        // No object can be larger than its file: sizes are measured only in files that
        // are larger than the limit.
        let maxObjectBytes = maxObjectBytes.flatMap { contents.utf8.count > $0 ? $0 : nil }
        do {
            // Only merge keys (`<<`) are resolved, as Yams' own YAMLDecoder does: the
            // default resolver runs seven regular expressions on every scalar and on
            // every key looked up, which made reading manifests cost 0.5 ms each.
            // Typed decoding reads numbers, booleans and nulls from the text itself.
            let parser = try Parser(yaml: contents, resolver: Self.resolver, encoding: .utf8)
            while let document = try parser.nextRoot() {
                decodeDocument(document, file: file, maxObjectBytes: maxObjectBytes, into: &result)
            }
        } catch let error as YamlError {
            result.fileError = fileError(error, file: file)
            result.manifests = []
            result.errors = []
        } catch {
            result.fileError = ManifestError(file: file, line: 1, message: "cannot read: \(error)")
        }
        return result
    }

    private static func decodeDocument(_ node: Node, file: String, maxObjectBytes: Int?, into result: inout Result) {
        guard case .mapping = node else {
            if case .scalar(let scalar) = node, scalar.string.isEmpty { return }  // empty document
            result.errors.append(
                ManifestError(
                    file: file, line: node.mark?.line ?? 1, message: "a document must be a mapping with apiVersion and kind"))
            return
        }
        if node["kind"]?.string == "List", let items = node["items"], case .sequence(let sequence) = items {
            for item in sequence { decodeDocument(item, file: file, maxObjectBytes: maxObjectBytes, into: &result) }
            return
        }
        if let limit = maxObjectBytes, size(of: node, over: limit) != nil {
            // Named as the object when its kind and name say which it is.
            let key = node["kind"]?.string.flatMap(Kind.init(rawValue:)).flatMap { kind in
                node["metadata"]?["name"]?.string.map { name in
                    ObjectKey(
                        kind, namespace: kind.isNamespaced ? node["metadata"]?["namespace"]?.string ?? "default" : "",
                        name: name)
                }
            }
            let name = node["metadata"]?["name"]?.string.map { " \($0)" } ?? ""
            result.errors.append(
                ManifestError(
                    file: file, line: node.mark?.line ?? 1, object: key,
                    message:
                        "\(key == nil ? "\(node["kind"]?.string ?? "object")\(name) is larger" : "larger") than \(SourceLimits.describe(limit)), the limit per object (--max-object-size); not read"
                ))
            return
        }
        switch decodeObject(node, file: file) {
        case .success(let manifest?): result.manifests.append(manifest)
        case .success(nil): break
        case .failure(let error):
            result.errors.append(error)
            // A policy that cannot be read still names what it governs: those routes
            // answer 500 until it is fixed, rather than go unprotected.
            if let standIn = policyStandIn(node, file: file, error: error) { result.manifests.append(standIn) }
        }
    }

    /// For a policy kind refused when read: the policy with its targets and its spec's
    /// top-level fields as written, and why it could not be read.
    private static func policyStandIn(_ node: Node, file: String, error: ManifestError) -> Manifest? {
        guard let kind = node["kind"]?.string.flatMap(Kind.init(rawValue:)), kind.group == envoyGatewayGroup,
            node["metadata"]?["name"]?.string != nil,
            let metadata = try? decoder.decode(ObjectMeta.self, from: node["metadata"]!),
            let targets = try? node["spec"].map({ try decoder.decode(PolicyTargets.self, from: $0) }) ?? PolicyTargets()
        else { return nil }
        let written = (try? node["spec"].map { try decoder.decode(JSONValue.self, from: $0) }) ?? nil
        let problem = "it could not be read (\(error.field.map { $0.isEmpty ? "" : $0 + ": " } ?? "")\(error.message))"
        let object: KubeObject
        switch kind {
        case .securityPolicy:
            var spec = SecurityPolicy.Spec()
            (spec.targetRef, spec.targetRefs, spec.targetSelectors) = (targets.targetRef, targets.targetRefs, targets.targetSelectors)
            object = .securityPolicy(SecurityPolicy(metadata: metadata, spec: spec, writtenSpec: written ?? .object([:]), readProblem: problem))
        case .backendTrafficPolicy:
            var spec = BackendTrafficPolicy.Spec()
            (spec.targetRef, spec.targetRefs, spec.targetSelectors) = (targets.targetRef, targets.targetRefs, targets.targetSelectors)
            object = .backendTrafficPolicy(
                BackendTrafficPolicy(metadata: metadata, spec: spec, writtenSpec: written ?? .object([:]), readProblem: problem))
        case .clientTrafficPolicy:
            var spec = ClientTrafficPolicy.Spec()
            (spec.targetRef, spec.targetRefs, spec.targetSelectors) = (targets.targetRef, targets.targetRefs, targets.targetSelectors)
            object = .clientTrafficPolicy(
                ClientTrafficPolicy(metadata: metadata, spec: spec, writtenSpec: written ?? .object([:]), readProblem: problem))
        default: return nil
        }
        return Manifest(object: object, origin: Origin(file: file, line: node.mark?.line ?? 1))
    }

    /// The bytes of a node's scalars, once they pass `limit` (nil while within it: the
    /// walk stops as soon as the limit is passed).
    static func size(of node: Node, over limit: Int) -> Int? {
        var total = 0
        func walk(_ node: Node) -> Bool {
            switch node {
            case .scalar(let scalar): total += scalar.string.utf8.count
            case .mapping(let mapping):
                for (key, value) in mapping {
                    guard walk(key), walk(value) else { return false }
                }
            case .sequence(let sequence):
                for item in sequence { guard walk(item) else { return false } }
            case .alias: break
            }
            return total <= limit
        }
        return walk(node) ? nil : total
    }

    private static func decodeObject(_ node: Node, file: String) -> Swift.Result<Manifest?, ManifestError> {
        let line = node.mark?.line ?? 1
        func error(_ field: String, _ message: String, at path: [PathComponent] = [], key: ObjectKey? = nil)
            -> Swift.Result<Manifest?, ManifestError>
        {
            .failure(
                ManifestError(
                    file: file, line: locate(path, in: node) ?? line, object: key, field: field, message: message))
        }
        guard let kindName = node["kind"]?.string, !kindName.isEmpty else {
            return error("kind", "missing: every object needs apiVersion and kind")
        }
        guard let apiVersion = node["apiVersion"]?.string, !apiVersion.isEmpty else {
            return error("apiVersion", "missing: every object needs apiVersion and kind")
        }
        guard let kind = Kind(rawValue: kindName) else { return .success(nil) }
        // Another API group's object of the same kind name (e.g. a Service of some CRD).
        let group = apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : ""
        guard group == kind.group else { return .success(nil) }
        let name = node["metadata"]?["name"]?.string ?? ""
        let namespace = kind.isNamespaced ? (node["metadata"]?["namespace"]?.string ?? "default") : ""
        let key = name.isEmpty ? nil : ObjectKey(kind, namespace: namespace, name: name)
        guard kind.apiVersions.contains(apiVersion) else {
            return error(
                "apiVersion",
                "\(kind.rawValue) is read at \(kind.apiVersions.joined(separator: " or ")), not \(apiVersion)",
                at: [.key("apiVersion")], key: key)
        }
        guard key != nil else {
            return error("metadata.name", "missing: every object needs a name", at: [.key("metadata")])
        }
        // What the API server would refuse: the object's name and labels, then its
        // kind's CRD schema (types, required fields, enums, lengths, patterns, ranges,
        // list keys, CEL rules). The checks of `Validation` run after decoding.
        let metadata = node.mapping.flatMap { JSONType.value(of: "metadata", in: $0) }
        if let problem = ObjectNames.firstProblem(of: metadata, kind: kind, name: name)
            ?? KindSchemas.firstProblem(of: node, kind: kind, apiVersion: apiVersion)
        {
            return error(format(problem.path), problem.message, at: problem.locate, key: key)
        }
        let object: KubeObject
        do {
            let decoder = Self.decoder
            switch kind {
            case .gatewayClass: object = .gatewayClass(try decoder.decode(from: node))
            case .gateway: object = .gateway(try decoder.decode(from: node))
            case .listenerSet: object = .listenerSet(try decoder.decode(from: node))
            case .httpRoute: object = .httpRoute(try decoder.decode(from: node))
            case .referenceGrant: object = .referenceGrant(try decoder.decode(from: node))
            case .service: object = .service(try decoder.decode(from: node))
            case .endpointSlice: object = .endpointSlice(try decoder.decode(from: node))
            case .secret: object = .secret(try decoder.decode(from: node))
            case .namespace: object = .namespace(try decoder.decode(from: node))
            case .grpcRoute: object = .grpcRoute(try decoder.decode(from: node))
            case .tlsRoute: object = .tlsRoute(try decoder.decode(from: node))
            case .tcpRoute: object = .tcpRoute(try decoder.decode(from: node))
            case .udpRoute: object = .udpRoute(try decoder.decode(from: node))
            case .backendTLSPolicy: object = .backendTLSPolicy(try decoder.decode(from: node))
            case .configMap: object = .configMap(try decoder.decode(from: node))
            case .ingress: object = .ingress(try decoder.decode(from: node))
            case .ingressClass: object = .ingressClass(try decoder.decode(from: node))
            case .pod: object = .pod(try decoder.decode(from: node))
            case .ciliumNetworkPolicy: object = .ciliumNetworkPolicy(try decoder.decode(from: node))
            case .authorizationPolicy: object = .authorizationPolicy(try decoder.decode(from: node))
            case .securityPolicy: object = .securityPolicy(try decoder.decode(from: node))
            case .backendTrafficPolicy: object = .backendTrafficPolicy(try decoder.decode(from: node))
            case .clientTrafficPolicy: object = .clientTrafficPolicy(try decoder.decode(from: node))
            }
        } catch let decoding as DecodingError {
            let (path, message) = describe(decoding)
            return error(format(path), message, at: path, key: key)
        } catch let other {
            return error("", "\(other)", key: key)
        }
        if let problem = Validation.problems(of: object).first {
            return error(format(problem.path), problem.message, at: problem.path, key: key)
        }
        return .success(Manifest(object: object, origin: Origin(file: file, line: line)))
    }

    private static func fileError(_ error: YamlError, file: String) -> ManifestError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let text = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            return ManifestError(file: file, line: mark.line, message: "not valid YAML: \(text)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ManifestError(
                file: file, line: context.mark.line,
                message: "not valid YAML: duplicate keys \(duplicates.joined(separator: ", "))")
        default:
            return ManifestError(file: file, line: 1, message: "not valid YAML: \(error)")
        }
    }

    // MARK: paths

    private static func describe(_ error: DecodingError) -> ([PathComponent], String) {
        switch error {
        case .keyNotFound(let key, let context):
            return (components(context.codingPath) + [.key(key.stringValue)], "required field is missing")
        case .typeMismatch(let type, let context):
            return (components(context.codingPath), "expected \(typeName(type))")
        case .valueNotFound(let type, let context):
            return (components(context.codingPath), "expected \(typeName(type)), found null")
        case .dataCorrupted(let context):
            return (components(context.codingPath), context.debugDescription)
        @unknown default:
            return ([], "\(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type: return "an integer"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            return name.hasPrefix("Array") ? "a list" : "a mapping"
        }
    }

    private static func components(_ path: [any CodingKey]) -> [PathComponent] {
        path.map { key in key.intValue.map(PathComponent.index) ?? .key(key.stringValue) }
    }

    static func format(_ path: [PathComponent]) -> String {
        var text = ""
        for component in path {
            switch component {
            case .key(let key): text += text.isEmpty ? key : "." + key
            case .index(let index): text += "[\(index)]"
            }
        }
        return text
    }

    /// The line of the deepest node on `path` that exists.
    static func locate(_ path: [PathComponent], in root: Node) -> Int? {
        var node = root
        var line = root.mark?.line
        for component in path {
            let next: Node?
            switch component {
            case .key(let key): next = node[key]
            case .index(let index):
                if case .sequence(let sequence) = node, index < sequence.count {
                    next = sequence[index]
                } else {
                    next = nil
                }
            }
            guard let next else { break }
            node = next
            line = next.mark?.line ?? line
        }
        return line
    }
}

/// One step of a field path.
public enum PathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)
}
