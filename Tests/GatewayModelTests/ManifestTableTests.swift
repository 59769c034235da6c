import Testing

@testable import GatewayModel

/// The bucketed table behind a ResourceSet behaves as a dictionary, and a set changed
/// from another shares the buckets the change did not touch.
@Suite struct ManifestTableTests {
    func manifest(_ name: String, line: Int = 1) -> Manifest {
        Manifest(
            object: .namespace(Namespace(metadata: ObjectMeta(name: name))), origin: Origin(file: "f.yaml", line: line))
    }

    func key(_ name: String) -> ObjectKey { ObjectKey(.namespace, namespace: "", name: name) }

    @Test func behavesAsADictionary() {
        var table = ManifestTable()
        var dictionary: [ObjectKey: Manifest] = [:]
        var generator = SystemRandomNumberGenerator()
        for step in 0..<3000 {
            let name = "n\(Int.random(in: 0..<400, using: &generator))"
            if Bool.random(using: &generator) {
                let value = manifest(name, line: step)
                #expect(table.updateValue(value, forKey: key(name)) == dictionary.updateValue(value, forKey: key(name)))
            } else {
                #expect(table.removeValue(forKey: key(name)) == dictionary.removeValue(forKey: key(name)))
            }
            #expect(table.count == dictionary.count)
            #expect(table.isEmpty == dictionary.isEmpty)
        }
        #expect(Set(table.keys) == Set(dictionary.keys))
        #expect(table.keys.count == dictionary.count)
        #expect(table.values.count == dictionary.count)
        for (key, value) in dictionary { #expect(table[key] == value) }
        #expect(table[key("absent")] == nil)
        #expect(ManifestTable()[key("absent")] == nil)
    }

    @Test func equalityAndHashFollowTheObjects() {
        var a = ManifestTable()
        var b = ManifestTable()
        for i in 0..<200 { a.updateValue(manifest("n\(i)"), forKey: key("n\(i)")) }
        for i in (0..<200).reversed() { b.updateValue(manifest("n\(i)"), forKey: key("n\(i)")) }
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        b.updateValue(manifest("n7", line: 2), forKey: key("n7"))
        #expect(a != b)
        b.updateValue(manifest("n7"), forKey: key("n7"))
        #expect(a == b)
        b.removeValue(forKey: key("n9"))
        #expect(a != b)
        // Emptied, a table equals (and hashes as) one that never held anything.
        for i in 0..<200 { a.removeValue(forKey: key("n\(i)")) }
        #expect(a == ManifestTable())
        #expect(a.hashValue == ManifestTable().hashValue)
        #expect(b != ManifestTable())
    }

    @Test func aChangedSetKeepsItsObjectsAndTheOldSetIsUntouched() {
        let set = ResourceSet(manifests: (0..<500).map { manifest("n\($0)") })
        var changed = set
        changed.replace(key("n3"), with: manifest("n3", line: 9))
        changed.replace(key("n4"), with: nil)
        changed.replace(key("new"), with: manifest("new"))
        #expect(set.manifests.count == 500)
        #expect(set[key("n3")]?.origin.line == 1)
        #expect(set[key("n4")] != nil)
        #expect(set[key("new")] == nil)
        #expect(changed.manifests.count == 500)
        #expect(changed[key("n3")]?.origin.line == 9)
        #expect(changed[key("n4")] == nil)
        #expect(changed.changedKeys(since: set) == [key("n3"), key("n4"), key("new")])
        #expect(changed == ResourceSet(manifests: changed.manifests.values))
    }
}
