import Foundation
import GatewayModel
import Logging
import Synchronization
import TestSupport
import Testing

@testable import ConfigSources

@Suite struct FileSourceTests {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String, atomically: Bool = true) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: atomically, encoding: .utf8)
    }

    func namespace(_ name: String) -> String { "apiVersion: v1\nkind: Namespace\nmetadata: {name: \(name)}\n" }

    func names(_ set: ResourceSet) -> [String] { set.manifests.keys.map(\.name).sorted() }

    @Test func readsRecursivelySkippingHiddenAndOtherFiles() throws {
        try write("a.yaml", namespace("a"))
        try write("sub/deeper/b.yml", namespace("b"))
        try write("c.json", #"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c"}}"#)
        try write(".hidden/d.yaml", namespace("d"))
        try write("notes.txt", namespace("e"))
        let set = FileSource(directories: [root.path]).load()
        #expect(names(set) == ["a", "b", "c"])
        #expect(set[ObjectKey(.namespace, namespace: "", name: "b")]?.origin.file == root.path + "/sub/deeper/b.yml")
    }

    @Test func brokenFileKeepsItsPreviousObjects() throws {
        let source = FileSource(directories: [root.path])
        try write("a.yaml", namespace("a") + "---\n" + namespace("a2"))
        try write("b.yaml", namespace("b"))
        #expect(names(source.load()) == ["a", "a2", "b"])
        try write("a.yaml", "apiVersion: v1\nkind: [half saved")
        let set = source.load()
        #expect(names(set) == ["a", "a2", "b"])
        #expect(set.errors.count == 1)
        #expect(set.errors[0].file.hasSuffix("a.yaml"))
        #expect(set.errors[0].message.contains("not valid YAML"))
        #expect(set.errors[0].message.contains("previous 2 objects stay in force"))
        try write("a.yaml", namespace("a3"))
        let fixed = source.load()
        #expect(names(fixed) == ["a3", "b"])
        #expect(fixed.errors.isEmpty)
    }

    @Test func limitsRefuseWhatIsTooBigAndKeepWhatWasRead() throws {
        let limits = SourceLimits(maxFileBytes: 4096, maxObjectBytes: 512, maxObjectsPerKind: 2)
        let source = FileSource(directories: [root.path], limits: limits)
        try write("a.yaml", namespace("a") + "---\n" + namespace("a2"))
        try write("b.yaml", namespace("b"))
        #expect(names(source.load()) == ["a", "a2", "b"])

        // A file over the limit is not read; its objects stay, and it says why.
        try write("a.yaml", namespace("a3") + "# " + String(repeating: "x", count: 5000) + "\n")
        let big = source.load()
        #expect(names(big) == ["a", "a2", "b"])
        #expect(big.errors.count == 1)
        #expect(
            big.errors.first?.description
                == "\(root.path)/a.yaml:1: not read: the file is 4.9 KiB, over the limit of 4 KiB (--max-file-size) (its previous 2 objects stay in force)"
        )

        // An object over the limit is refused by itself; the file's others are read.
        let label = String(repeating: "v", count: 600)
        try write("a.yaml", namespace("a4") + "---\n" + "apiVersion: v1\nkind: Namespace\nmetadata: {name: fat, labels: {x: \(label)}}\n")
        let fat = source.load()
        #expect(names(fat) == ["a4", "b"])
        #expect(
            fat.errors.first?.description
                == "\(root.path)/a.yaml:5: Namespace/fat: larger than 512 B, the limit per object (--max-object-size); not read",
            "\(fat.errors)")

        // Beyond the cap per kind, the last objects by name are refused, each named.
        try write("c.yaml", namespace("c"))
        let capped = source.load().capped(perKind: limits.maxObjectsPerKind)
        #expect(names(capped) == ["a4", "b"])
        #expect(capped.errors.contains { $0.object?.name == "c" && $0.message == "not read: there are more than 2 Namespace objects (--max-objects-per-kind)" })
    }

    @Test func sizesAreReadAsPeopleWriteThem() {
        #expect(SourceLimits.bytes("1572864") == 1_572_864)
        #expect(SourceLimits.bytes("512KiB") == 524_288)
        #expect(SourceLimits.bytes("64MiB") == 67_108_864)
        #expect(SourceLimits.bytes("1GiB") == 1_073_741_824)
        #expect(SourceLimits.bytes("12MB") == nil)
        #expect(SourceLimits.bytes("-1") == nil)
        #expect(SourceLimits.bytes("0") == nil)
        #expect(SourceLimits.describe(1_572_864) == "1.5 MiB")
        #expect(SourceLimits.describe(900) == "900 B")
    }

    @Test func deletedFilesTakeTheirObjects() throws {
        let source = FileSource(directories: [root.path])
        try write("a.yaml", namespace("a"))
        try write("b.yaml", namespace("b"))
        #expect(names(source.load()) == ["a", "b"])
        try FileManager.default.removeItem(at: root.appendingPathComponent("a.yaml"))
        #expect(names(source.load()) == ["b"])
    }

    /// A change to a few files is made to the last set rather than building one from
    /// every file (so the kinds it left alone keep their revisions), and gives what a
    /// walk gives; where an object is defined twice, before or after, the set is built
    /// again, since which definition wins depends on every file's place.
    @Test func aFewEditedFilesChangeTheLastSet() throws {
        let service = { (name: String, port: Int) in
            "apiVersion: v1\nkind: Service\nmetadata: {name: \(name), namespace: app}\nspec: {ports: [{port: \(port)}]}\n"
        }
        for index in 0..<5 { try write("s\(index).yaml", service("s\(index)", 80) + "---\n" + namespace("n\(index)")) }
        try write("broken.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: [x\n")
        let source = FileSource(directories: [root.path])
        let state = source.state
        let logger = Logger(label: "test")
        let first = state.rescan(directories: [root.path], limits: .defaults, logger: logger).set
        func refresh(_ names: [String]) throws -> ResourceSet {
            let paths = Set(names.map { root.appendingPathComponent($0).path })
            guard case .changed(let set) = state.refresh(paths, directories: [root.path], limits: .defaults, logger: logger) else {
                Issue.record("\(names): no change seen")
                return ResourceSet()
            }
            #expect(set == FileSource(directories: [root.path]).load(), "\(names): not what a walk reads")
            return set
        }
        // One Service's port, then a file removed and one added, then a broken file mended.
        try write("s1.yaml", service("s1", 81) + "---\n" + namespace("n1"))
        let second = try refresh(["s1.yaml"])
        #expect(state.patches == 1)
        #expect(second.changedKeys(since: first) == [ObjectKey(.service, namespace: "app", name: "s1")])
        #expect(second.sameObjects(as: first, ofKinds: { $0 == .namespace }))
        try FileManager.default.removeItem(at: root.appendingPathComponent("s2.yaml"))
        try write("t.yaml", namespace("t"))
        let third = try refresh(["s2.yaml", "t.yaml"])
        #expect(state.patches == 2)
        #expect(
            third.changedKeys(since: second)
                == [ObjectKey(.service, namespace: "app", name: "s2"), ObjectKey(.namespace, namespace: "", name: "n2"),
                    ObjectKey(.namespace, namespace: "", name: "t")])
        try write("broken.yaml", namespace("mended"))
        let fourth = try refresh(["broken.yaml"])
        #expect(state.patches == 3)
        #expect(fourth.errors.isEmpty)
        // An object defined in two files: built again, and again until no object is.
        try write("twice.yaml", namespace("n0"))
        let fifth = try refresh(["twice.yaml"])
        #expect(state.patches == 3)
        #expect(fifth.errors.map(\.message).contains { $0.hasPrefix("defined again") })
        try FileManager.default.removeItem(at: root.appendingPathComponent("twice.yaml"))
        _ = try refresh(["twice.yaml"])
        #expect(state.patches == 3)
        try write("s3.yaml", service("s3", 83))
        _ = try refresh(["s3.yaml"])
        #expect(state.patches == 4)
    }

    @Test func missingDirectoryIsReported() {
        let set = FileSource(directories: [root.path + "/nope"]).load()
        #expect(set.errors.map(\.message) == ["config directory does not exist"])
    }

    /// A Kubernetes ConfigMap volume: files are symlinks into `..data`, itself a symlink
    /// to a hidden timestamped directory, swapped atomically on update.
    @Test func configMapStyleSwapIsSeenOnce() async throws {
        let fm = FileManager.default
        try write("..2026_01/gw.yaml", namespace("v1"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("..data").path, withDestinationPath: "..2026_01")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("gw.yaml").path, withDestinationPath: "..data/gw.yaml")
        let source = FileSource(directories: [root.path])
        var updates = source.updates(debounce: Debounce(quiet: .milliseconds(5)), safetyRescan: .seconds(30)).makeAsyncIterator()
        #expect(await updates.next().map(names) == ["v1"])

        try write("..2026_02/gw.yaml", namespace("v2"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("..data_tmp").path, withDestinationPath: "..2026_02")
        #expect(rename(root.appendingPathComponent("..data_tmp").path, root.appendingPathComponent("..data").path) == 0)
        let next = await updates.next()
        #expect(next.map(names) == ["v2"])
    }

    @Test func watchSeesEditsAndCoalescesBursts() async throws {
        try write("a.yaml", namespace("a"))
        let source = FileSource(directories: [root.path])
        var updates = source.updates(debounce: Debounce(quiet: .milliseconds(20)), safetyRescan: .seconds(30)).makeAsyncIterator()
        #expect(await updates.next().map(names) == ["a"])
        // A burst: several files written in quick succession.
        for i in 0..<5 { try write("burst-\(i).yaml", namespace("n\(i)")) }
        var latest = await updates.next()
        // The burst may arrive in one or a few sets, never one per write.
        var sets = 1
        while latest.map(names)?.count != 6 {
            latest = await updates.next()
            sets += 1
        }
        #expect(sets < 5)
    }

    /// The source's own debounce (as `serve` gives it) decides how long it waits: with
    /// handling a set slow (a 3 s window), writes 30 ms apart are one burst; with it
    /// quick (1 ms), writes half a second apart are read apart. The gaps are far from
    /// the windows, so a loaded machine delaying a write or a read does not change the
    /// outcome.
    @Test func theQuietWindowFollowsTheCostTheSourceIsGiven() async throws {
        for (directory, cost, gap) in [
            ("slow", Duration.seconds(10), Duration.milliseconds(30)), ("quick", .microseconds(100), .milliseconds(500)),
        ] {
            try write("\(directory)/a.yaml", namespace("a"))
            let changeCost = ChangeCost()
            changeCost.record(cost)
            let source = FileSource(
                directories: [root.appendingPathComponent(directory).path],
                debounce: .following(changeCost, longest: .seconds(3), limit: .seconds(20)))
            var updates = source.changes().makeAsyncIterator()
            #expect(await updates.next().map { names($0.set) } == ["a"])
            // Written while the sets are read (the stream keeps only the newest).
            let root = root
            let writer = Task {
                for i in 0..<4 {
                    try await Task.sleep(for: gap)
                    try namespace("n\(i)").write(
                        to: root.appendingPathComponent("\(directory)/spaced-\(i).yaml"), atomically: true, encoding: .utf8)
                }
            }
            var sets = 0
            var latest: [String]?
            while latest?.count != 5 {
                latest = await updates.next().map { names($0.set) }
                sets += 1
            }
            try await writer.value
            if directory == "slow" {
                #expect(sets == 1, "a 3 s window read writes 30 ms apart in \(sets) sets")
            } else {
                #expect(sets >= 3, "a 1 ms window read writes 500 ms apart in only \(sets) sets")
            }
        }
    }

    /// A file a writer finished is decoded while the source waits for the burst to
    /// pause, and the read takes that decoding; a file written again meanwhile is read
    /// as it is now, never as it was decoded.
    @Test func finishedFilesAreDecodedWhileTheSourceWaits() async throws {
        try write("a.yaml", namespace("a"))
        // A window long enough that decoding ahead finishes within it on a loaded machine.
        let source = FileSource(directories: [root.path], debounce: Debounce(quiet: .seconds(2)))
        var updates = source.changes().makeAsyncIterator()
        #expect(await updates.next().map { names($0.set) } == ["a"])
        #expect(source.state.preparedReads == 0)

        try write("b.yaml", namespace("b"))
        #expect(await updates.next().map { names($0.set) } == ["a", "b"])
        #expect(source.state.preparedReads == 1, "b.yaml was decoded by the read, not while the source waited")

        // Renamed into place and decoded ahead; then written again in place, by a writer
        // that has not closed it when the read comes (so nothing decodes it ahead).
        try write("c.yaml", namespace("c"))
        try await Task.sleep(for: .milliseconds(500))
        let handle = try #require(FileHandle(forWritingAtPath: root.appendingPathComponent("c.yaml").path))
        defer { try? handle.close() }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(namespace("c2").utf8))
        let next = await updates.next().map { names($0.set) }
        #expect(next == ["a", "b", "c2"])
    }

    /// With inotify, safety rescans are spaced by what a walk that found nothing new
    /// cost (50 walks' time, never less than the interval asked for), so a large tree's
    /// walks do not take a core's time from translation; without inotify they keep the
    /// interval, being the only way a change is seen.
    @Test func safetyRescansAreSpacedByWhatAWalkCosts() {
        let watcher = DirectoryWatcher(logger: Logger(label: "test"))
        #expect(watcher.safetyInterval(.seconds(2)) == .seconds(2), "no walk measured yet")
        watcher.noteWalk(took: .milliseconds(10))
        #expect(watcher.safetyInterval(.seconds(2)) == .seconds(2))
        watcher.noteWalk(took: .milliseconds(80))
        #expect(watcher.safetyInterval(.seconds(2)) == .seconds(4))
        watcher.noteWalk(took: .milliseconds(5))
        #expect(watcher.safetyInterval(.seconds(2)) == .seconds(2), "a cheaper walk brings the interval back")
    }

    /// The watch re-reads only the files inotify names. After every step of a random
    /// sequence of edits (seeded) — writes in place and by rename, deletions, renames,
    /// new subdirectories, a symlink to one, files under two names (symlinks, hard links),
    /// directories replaced or swapped, ConfigMap-style hidden symlinks swapped and
    /// removed, broken files, objects defined in two files — the set it
    /// delivers equals what a full walk of the directory reads, errors and their order
    /// included. The walk is another source that has seen every step (a broken file keeps
    /// what its file had before, so both need the same history); broken files are only
    /// renamed into place, since a watch may read a file written in place half-way. The
    /// periodic safety walk is off, so only inotify can get it there.
    @Test(arguments: [1, 2, 3])
    func watchedSetEqualsAFreshWalk(seed: UInt64) async throws {
        var random = SplitMix(seed: seed)
        let source = FileSource(directories: [root.path])
        let walked = FileSource(directories: [root.path])
        let latest = LatestSet()
        let watch = Task {
            for await set in source.updates(safetyRescan: .seconds(3600)) { latest.set(set) }
        }
        defer { watch.cancel() }
        // The watch's first read, before any step: at the start of a full run the
        // translation suites keep both of this machine's cooperative threads busy for
        // about 18 s, and the first read can wait for them.
        let started = Date().addingTimeInterval(120)
        while latest.get() == nil, Date() < started { try await Task.sleep(for: .milliseconds(5)) }
        try #require(latest.get() != nil, "the watch delivered no first set in 120 s")
        let names = ["a.yaml", "b.yml", "c.json", "sub/d.yaml", "sub-e.yaml", "sub/deep/f.yaml", "z.yaml"]
        let fm = FileManager.default
        func content(broken: Bool = false) -> String {
            switch random.next() % 6 {
            case 0 where broken: "apiVersion: v1\nkind: [half saved"
            case 1: namespace("n\(random.next() % 4)") + "---\n" + namespace("m\(random.next() % 4)")
            default: namespace("n\(random.next() % 4)")
            }
        }
        for step in 0..<60 {
            let name = names[Int(random.next() % UInt64(names.count))]
            let path = root.appendingPathComponent(name).path
            switch random.next() % 10 {
            case 0, 1:
                try write(name, content(), atomically: false)
            case 7:
                // A file read under two names: a symlink, then a hard link, then neither.
                let soft = root.appendingPathComponent("soft.yaml").path
                let hard = root.appendingPathComponent("hard.yaml").path
                let target = root.appendingPathComponent(names[Int(random.next() % 3)]).path
                if (try? fm.destinationOfSymbolicLink(atPath: soft)) != nil {
                    try fm.removeItem(atPath: soft)
                    if fm.fileExists(atPath: target), !fm.fileExists(atPath: hard) { #expect(link(target, hard) == 0) }
                } else if fm.fileExists(atPath: hard) {
                    try fm.removeItem(atPath: hard)
                } else if fm.fileExists(atPath: target) {
                    try fm.createSymbolicLink(atPath: soft, withDestinationPath: target)
                }
            case 8:
                // A directory replaced under its name at once, or two directories swapped.
                let a = root.appendingPathComponent("new-0").path
                let b = root.appendingPathComponent("new-1").path
                let aside = root.appendingPathComponent("new-swap").path
                if random.next() % 2 == 0, fm.fileExists(atPath: a) {
                    try fm.removeItem(atPath: a)
                    try write("new-0/g.yaml", content())
                } else if fm.fileExists(atPath: a), fm.fileExists(atPath: b) {
                    #expect(rename(a, aside) == 0 && rename(b, a) == 0 && rename(aside, b) == 0)
                }
            case 9:
                // Visible symlinks through a hidden one, as a ConfigMap volume has them.
                let data = root.appendingPathComponent("..data").path
                let visible = root.appendingPathComponent("cm.yaml").path
                if (try? fm.destinationOfSymbolicLink(atPath: data)) != nil {
                    try fm.removeItem(atPath: data)
                } else {
                    try write("..v\(step)/cm.yaml", content())
                    try fm.createSymbolicLink(atPath: data, withDestinationPath: "..v\(step)")
                    if (try? fm.destinationOfSymbolicLink(atPath: visible)) == nil {
                        try fm.createSymbolicLink(atPath: visible, withDestinationPath: "..data/cm.yaml")
                    }
                }
            case 6:
                // A symlink with a manifest's name to a directory: only a walk reads it.
                let link = root.appendingPathComponent("linked.yaml").path
                if (try? fm.destinationOfSymbolicLink(atPath: link)) != nil {
                    try fm.removeItem(atPath: link)
                } else if fm.fileExists(atPath: root.appendingPathComponent("new-0").path) {
                    try fm.createSymbolicLink(atPath: link, withDestinationPath: "new-0")
                }
            case 2:
                // Written aside under a hidden name and renamed into place.
                try fm.createDirectory(
                    at: root.appendingPathComponent(name).deletingLastPathComponent(), withIntermediateDirectories: true)
                let aside = (path as NSString).deletingLastPathComponent + "/.tmp-\(step)"
                try content(broken: true).write(toFile: aside, atomically: false, encoding: .utf8)
                #expect(rename(aside, path) == 0)
            case 3:
                try? fm.removeItem(atPath: path)
            case 4:
                let other = root.appendingPathComponent(names[Int(random.next() % UInt64(names.count))]).path
                if fm.fileExists(atPath: path), other != path {
                    try fm.createDirectory(
                        atPath: (other as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                    _ = rename(path, other)
                }
            default:
                try write("new-\(step % 3)/g.yaml", content())
            }
            let expected = walked.load()
            let deadline = Date().addingTimeInterval(20)
            while latest.get() != expected, Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
            let got = latest.get()
            #expect(got == expected, "step \(step) (seed \(seed)): the watched set differs from a fresh walk")
            if got != expected { break }
        }
    }
}

/// The last set a watch delivered.
final class LatestSet: Sendable {
    private let value = Mutex<ResourceSet?>(nil)
    func set(_ set: ResourceSet) { value.withLock { $0 = set } }
    func get() -> ResourceSet? { value.withLock { $0 } }
}
