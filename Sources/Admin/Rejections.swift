import GatewayModel
import IR
import Translation
import XDS

/// Turns NACKs into status: the objects whose resources a proxy currently rejects get
/// `Programmed=False` with Envoy's message and the proxies that rejected them.
public enum Rejections {
    public static func conditions(
        registry: ClientRegistry, result: TranslationResult, set: ResourceSet
    ) -> [ObjectKey: [Condition]] {
        var messages: [ObjectKey: [String]] = [:]
        var originsByGroup: [String: [ResourceKey: Set<ObjectKey>]] = [:]
        for client in registry.all {
            guard let plan = result.plans[client.group] else { continue }
            for (type, status) in client.types.sorted(by: { $0.key < $1.key }) {
                // Only a NACK of the latest push still stands: anything sent since replaced it.
                guard let nack = status.lastNack, status.sentNonce == nack.nonce else { continue }
                let origins = originsByGroup[client.group] ?? plan.origins
                originsByGroup[client.group] = origins
                var objects: Set<ObjectKey> = []
                for name in nack.resources {
                    objects.formUnion(origins[ResourceKey(type.resourceKind, name)] ?? [])
                }
                for object in objects {
                    messages[object, default: []].append(
                        "proxy \(client.nodeID) (group \(client.group)) rejected \(type.shortName) version \(nack.version): \(nack.message)"
                    )
                }
            }
        }
        return messages.mapValues { lines in
            [Condition(.programmed, false, reason: .invalid, message: lines.sorted().joined(separator: "; "), generation: nil)]
        }.reduce(into: [:]) { result, entry in
            var conditions = entry.value
            conditions[0].observedGeneration = set[entry.key]?.object.metadata.generation
            result[entry.key] = conditions
        }
    }

    /// The translator's status with NACK conditions merged in (replacing Programmed).
    public static func merged(_ status: ObjectStatus?, _ nack: [Condition]?) -> ObjectStatus {
        var status = status ?? ObjectStatus()
        guard let nack else { return status }
        status.conditions.removeAll { $0.type == .programmed }
        status.conditions += nack
        return status
    }
}
