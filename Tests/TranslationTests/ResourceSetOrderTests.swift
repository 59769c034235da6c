import Foundation
import GatewayModel
import Testing
import TestSupport

/// A ResourceSet keeps each kind's keys sorted as it changes, rather than sorting them
/// whenever a kind is read: whatever built or changed it, a kind's objects come out in
/// key order, as they did when every read sorted.
@Suite struct ResourceSetOrderTests {
    static func configMap(_ namespace: String, _ name: String, value: Int) throws -> Manifest {
        let result = ManifestDecoder.decode(
            file: "\(namespace)-\(name).yaml",
            contents: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \(name), namespace: \(namespace)}\ndata: {v: \"\(value)\"}\n")
        return try #require(result.manifests.first, "\(result.errors)")
    }

    static func namespace(_ name: String) throws -> Manifest {
        let result = ManifestDecoder.decode(file: "\(name).yaml", contents: "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(name)}\n")
        return try #require(result.manifests.first, "\(result.errors)")
    }

    /// Every kind read from `set` is in key order, and holds exactly the set's objects of it.
    static func expectOrdered(_ set: ResourceSet, step: String) {
        for kind in [Kind.configMap, .namespace] {
            let read = set.manifests(of: kind).map(\.object.key)
            let expected = set.manifests.keys.filter { $0.kind == kind }.sorted()
            #expect(read == expected, "\(step): \(kind)")
            #expect(set.count(of: kind) == expected.count, "\(step): count of \(kind)")
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 4])
    func kindsStayInKeyOrderThroughAnyChange(seed: UInt64) throws {
        var random = SplitMix(seed: seed)
        // Decoded once: the objects the steps pick from (30 Namespaces; ConfigMaps in 4
        // namespaces under 40 names, each with 2 contents).
        let namespaces = try (0..<30).map { try Self.namespace("n\($0)") }
        let configMaps = try (0..<4).flatMap { namespace in
            try (0..<40).flatMap { name in try (0..<2).map { try Self.configMap("ns\(namespace)", "c\(name)", value: $0) } }
        }
        func someManifest() -> Manifest {
            Int.random(in: 0..<5, using: &random) == 0
                ? namespaces.randomElement(using: &random)! : configMaps.randomElement(using: &random)!
        }
        var set = ResourceSet(manifests: (0..<25).map { _ in someManifest() })
        Self.expectOrdered(set, step: "built")
        for step in 0..<300 {
            let manifest = someManifest()
            let key = manifest.object.key
            switch Int.random(in: 0..<6, using: &random) {
            case 0:
                set.insert(manifest)
            case 1, 2:
                set.replace(key, with: manifest)
            case 3:
                set.replace(key, with: nil)
            case 4:
                let other = ResourceSet(manifests: (0..<Int.random(in: 0..<8, using: &random)).map { _ in someManifest() })
                set = set.merging(other)
            default:
                set = set.capped(perKind: Int.random(in: 5..<60, using: &random))
            }
            Self.expectOrdered(set, step: "step \(step)")
        }
    }

    /// A set tells what changed since a set it was made from (or one made from the same
    /// set) by walking its kinds' revisions back, comparing only the keys the changes
    /// touched. Whatever the history — sets built whole, merged, capped, chains longer
    /// than a revision reaches, an object put back as it was, siblings — what it says
    /// equals comparing every object.
    @Test(arguments: [UInt64(1), 2, 3])
    func changesSinceAnEarlierSetAreWhatComparingEveryObjectFinds(seed: UInt64) throws {
        var random = SplitMix(seed: seed)
        let namespaces = try (0..<30).map { try Self.namespace("n\($0)") }
        let configMaps = try (0..<3).flatMap { namespace in
            try (0..<30).flatMap { name in try (0..<2).map { try Self.configMap("ns\(namespace)", "c\(name)", value: $0) } }
        }
        func someManifest() -> Manifest {
            Int.random(in: 0..<5, using: &random) == 0
                ? namespaces.randomElement(using: &random)! : configMaps.randomElement(using: &random)!
        }
        func compared(_ set: ResourceSet, _ previous: ResourceSet) -> Set<ObjectKey> {
            Set(set.manifests.keys.filter { set[$0] != previous[$0] } + previous.manifests.keys.filter { set[$0] == nil })
        }
        var set = ResourceSet(manifests: (0..<25).map { _ in someManifest() })
        var history = [set]
        for step in 0..<400 {
            let manifest = someManifest()
            let key = manifest.object.key
            switch Int.random(in: 0..<20, using: &random) {
            case 0: set.insert(manifest)
            case 1: set = set.merging(ResourceSet(manifests: (0..<Int.random(in: 0..<4, using: &random)).map { _ in someManifest() }))
            case 2: set = set.capped(perKind: Int.random(in: 20..<80, using: &random))
            case 3: set = ResourceSet(manifests: set.manifests.values.sorted { $0.object.key < $1.object.key })
            case 4...8: set.replace(key, with: nil)
            case 9: if let earlier = history.randomElement(using: &random) { set.replace(key, with: earlier[key]) }
            default: set.replace(key, with: manifest)
            }
            history.append(set)
            if history.count > 120 { history.removeFirst() }
            // A sibling: another change to an earlier set.
            var sibling = history.randomElement(using: &random)!
            let other = someManifest()
            sibling.replace(other.object.key, with: Int.random(in: 0..<3, using: &random) == 0 ? nil : other)
            for previous in [history[history.count - 2], history.randomElement(using: &random)!, history[0], sibling] {
                let expected = compared(set, previous)
                #expect(set.changedKeys(since: previous) == expected, "step \(step)")
                #expect(previous.changedKeys(since: set) == expected, "step \(step), backwards")
                for kind in [Kind.namespace, .configMap] {
                    let same = !expected.contains { $0.kind == kind && set[$0]?.object != previous[$0]?.object }
                    #expect(set.sameObjects(as: previous, ofKinds: { $0 == kind }) == same, "step \(step), \(kind)")
                    // Objects, not where they were read: with the revisions or without.
                    let differing = expected.filter { $0.kind == kind && set[$0]?.object != previous[$0]?.object }
                    #expect(set.differingObjects(from: previous, ofKinds: [kind]) == differing, "step \(step), \(kind)")
                    if let changed = set.changedObjects(since: previous, ofKinds: [kind]) {
                        #expect(changed == differing, "step \(step), \(kind)")
                    }
                }
            }
        }
    }

    /// Objects added out of order, one by one, read in key order.
    @Test func insertingOutOfOrderReadsInOrder() throws {
        var set = ResourceSet()
        for name in ["m", "c", "x", "a", "q", "b"] { set.insert(try Self.configMap("ns", name, value: 0)) }
        #expect(set.manifests(of: .configMap).map(\.object.metadata.name) == ["a", "b", "c", "m", "q", "x"])
        set.replace(ObjectKey(.configMap, namespace: "ns", name: "c"), with: nil)
        set.replace(ObjectKey(.configMap, namespace: "ns", name: "d"), with: try Self.configMap("ns", "d", value: 1))
        #expect(set.manifests(of: .configMap).map(\.object.metadata.name) == ["a", "b", "d", "m", "q", "x"])
    }
}
