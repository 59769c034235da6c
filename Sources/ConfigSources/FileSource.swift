import Dispatch
import Foundation
import GatewayModel
import Logging

#if os(Linux)
    import Glibc
#else
    #error("Chancery runs on Linux only: the file source watches directories with inotify (docs/architecture.md, Platforms)")
#endif

/// Kubernetes manifests from one or more directories, read recursively and watched.
///
/// Files ending `.yaml`, `.yml` or `.json` are read; entries whose name starts with `.`
/// are skipped (so a Kubernetes ConfigMap mount, whose files are symlinks into a hidden
/// `..data` directory, is read once). A file that is not valid YAML keeps the objects it
/// had before in force and its error is reported — an editor's half-saved file never
/// deletes routes. Bursts of changes (an editor's atomic rename, a ConfigMap swap, a
/// `git checkout`) coalesce into one new ResourceSet.
public final class FileSource: Sendable {
    public let directories: [String]
    public let limits: SourceLimits
    /// How ``ConfigSource/changes()`` waits for a burst to pause.
    public let debounce: Debounce
    private let logger: Logger
    let state = FileSourceState()

    public init(
        directories: [String], limits: SourceLimits = .defaults, debounce: Debounce = .adaptive,
        logger: Logger = Logger(label: "chancery.files")
    ) {
        self.directories = directories
        self.limits = limits
        self.debounce = debounce
        self.logger = logger
    }

    /// The manifest files under each directory (`.yaml`, `.yml`, `.json`, hidden names
    /// skipped), as the source reads them, in the order it reads them.
    public static func manifestFiles(under directories: [String]) -> [String] {
        var linked = false
        return directories.flatMap { FileSourceState.walk($0, linked: &linked).filter { !$0.1 }.map(\.0) }
    }

    /// Reads every file now.
    public func load() -> ResourceSet {
        state.rescan(directories: directories, limits: limits, logger: logger).set
    }

    /// A new ResourceSet, and when the change that produced it was first noticed.
    public struct Update: Sendable {
        public var set: ResourceSet
        public var seenAt: Date
    }

    /// The current ResourceSet, then a new one after every change that alters what
    /// was read (objects or errors).
    ///
    /// `debounce` replaces the source's own (``debounce``) for this stream.
    public func updates(debounce: Debounce? = nil, safetyRescan: Duration = .seconds(2))
        -> AsyncStream<ResourceSet>
    {
        let (stream, continuation) = AsyncStream<ResourceSet>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let task = Task {
            for await update in timedUpdates(debounce: debounce, safetyRescan: safetyRescan) {
                continuation.yield(update.set)
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Like ``updates(debounce:safetyRescan:)``, with the time each change was noticed.
    ///
    /// inotify names the entries that changed, so a change re-reads only the files it
    /// names. A change to a directory or to a name that is not a manifest's, a lost
    /// event, the periodic safety tick and — in trees where files are reached through
    /// links (symlinks, hard links; a ConfigMap volume) — every change walk every
    /// directory again.
    public func timedUpdates(debounce: Debounce? = nil, safetyRescan: Duration = .seconds(2))
        -> AsyncStream<Update>
    {
        let debounce = debounce ?? self.debounce
        let (stream, continuation) = AsyncStream<Update>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let directories = directories
        let limits = limits
        let logger = logger
        let state = state
        let task = Task {
            let watcher = DirectoryWatcher(logger: logger)
            /// Walks, and walks again while that added watches: a file created in a new
            /// directory before its watch was in place sends no event.
            func walk() -> FileSourceState.Scan {
                var scan = state.rescan(directories: directories, limits: limits, logger: logger)
                var again = 0
                while watcher.watch(scan.directories), again < 3 {
                    scan = state.rescan(directories: directories, limits: limits, logger: logger)
                    again += 1
                }
                return scan
            }
            var last = walk()
            continuation.yield(Update(set: last.set, seenAt: Date()))
            let ticks = watcher.events(safetyRescan: safetyRescan) { paths in state.prepare(paths, limits: limits) }
            let overlapping = FileSourceState.rootsOverlap(directories)
            for await _ in ticks {
                let seen = Date()
                await watcher.clock.settle(debounce)
                let changes = watcher.take()
                // Where files are reached through links (symlinks, hard links), a change
                // under one name changes what another name reads: walk.
                var mustWalk =
                    changes.everything
                    || ((overlapping || last.linked) && (!changes.paths.isEmpty || changes.hidden))
                if !mustWalk, !changes.paths.isEmpty {
                    switch state.refresh(changes.paths, directories: directories, limits: limits, logger: logger) {
                    case .unchanged: break
                    case .changed(let set):
                        last.set = set
                        continuation.yield(Update(set: set, seenAt: seen))
                    case .needsWalk: mustWalk = true
                    }
                }
                if mustWalk {
                    let start = ContinuousClock.now
                    let next = walk()
                    if next.set != last.set {
                        continuation.yield(Update(set: next.set, seenAt: seen))
                    } else {
                        // A walk that read nothing new: what a safety rescan costs.
                        watcher.noteWalk(took: ContinuousClock.now - start)
                    }
                    last = next
                }
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}

/// What was read from each file, kept between scans.
final class FileSourceState: @unchecked Sendable {
    private struct FileEntry {
        var contents: Data
        var stamp: Stamp?
        var manifests: [Manifest]
        var errors: [ManifestError]
    }

    /// What `stat` says of a file: while it stays the same the file is not read again
    /// (a rescan of 1,000 unchanged files then costs 1,000 `stat`s, not 1,000 reads).
    /// A rename into place changes the inode, a write the modification and change times.
    struct Stamp: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: timespec
        let changed: timespec

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modified = info.st_mtim
            changed = info.st_ctim
        }

        static func == (a: Stamp, b: Stamp) -> Bool {
            a.device == b.device && a.inode == b.inode && a.size == b.size
                && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
                && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
        }
    }

    private let lock = NSLock()
    private var files: [String: FileEntry] = [:]
    /// The files read, in the order a walk of the directories finds them (the order
    /// their objects go into the set: where two define one object, the first wins).
    private var order: [(root: Int, path: String)] = []
    /// The roots that did not exist at the last walk (reported in every set, in root order).
    private var missingRoots: [Int: ManifestError] = [:]
    /// The set last delivered, and whether an object was defined twice in it (in two
    /// files, or twice in one): a change to a few files is made to it, rather than
    /// building a set from every file again (``patched(_:roots:)``).
    private var last: (set: ResourceSet, duplicates: Bool)?
    /// How many sets were made by changing the last one (for tests).
    private(set) var patches = 0
    /// Files decoded while the source waited for a burst to pause (``prepare(_:limits:)``),
    /// by path, with the contents decoded; taken by the next read of the same contents.
    private var prepared: [String: (contents: Data, decoded: ManifestDecoder.Result)] = [:]
    /// How many reads found their file decoded already (for tests).
    private(set) var preparedReads = 0

    struct Scan {
        var set: ResourceSet
        var directories: [String]
        /// Whether any file or directory read is a symlink or a file with several hard
        /// links: another name may then read what a change touched.
        var linked: Bool
    }

    /// Walks every directory and reads every file whose `stat` changed.
    func rescan(directories: [String], limits: SourceLimits, logger: Logger) -> Scan {
        lock.lock()
        defer { lock.unlock() }
        var seen: Set<String> = []
        var dirs: [String] = []
        var walked: [(root: Int, path: String)] = []
        var linked = false
        missingRoots = [:]
        for (index, root) in directories.enumerated() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                missingRoots[index] = ManifestError(file: root, line: 0, message: "config directory does not exist")
                continue
            }
            for (path, isDir) in Self.walk(root, linked: &linked) {
                if isDir {
                    dirs.append(path)
                    continue
                }
                seen.insert(path)
                if read(path, limits: limits, logger: logger) { walked.append((index, path)) }
            }
        }
        for path in files.keys where !seen.contains(path) { files.removeValue(forKey: path) }
        order = walked
        // A walk read every file: what was decoded ahead and not taken is stale.
        prepared = [:]
        return Scan(set: assemble(roots: directories.count), directories: directories + dirs, linked: linked)
    }

    /// Whether `path` is a symlink, or a file with more than one hard link.
    static func isLinked(_ path: String) -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        return (info.st_mode & S_IFMT) == S_IFLNK || ((info.st_mode & S_IFMT) == S_IFREG && info.st_nlink > 1)
    }

    /// What re-reading some files found.
    enum Refresh {
        case unchanged
        /// The set as a walk would now make it.
        case changed(ResourceSet)
        /// One of the names is a directory or a link: only a walk reads it right.
        case needsWalk
    }

    /// Re-reads only `paths` (files inotify named, in directories of the last walk).
    func refresh(_ paths: Set<String>, directories: [String], limits: SourceLimits, logger: Logger) -> Refresh {
        lock.lock()
        defer { lock.unlock() }
        var changed = false
        var edits: [(before: FileEntry?, after: FileEntry?)] = []
        for path in paths.sorted() {
            let before = files[path]
            if before == nil, Self.walkKey(path, roots: directories).root == directories.count { continue }
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            // A directory, or a link (another name may read the same file): a walk reads
            // it, and finds the links.
            if exists, isDirectory.boolValue || Self.isLinked(path) { return .needsWalk }
            // inotify named it: read it even if its stat looks the same (a rewrite of the
            // same size within one timestamp tick keeps it), decoding only new contents.
            if exists, read(path, limits: limits, logger: logger, trustStamp: false) {
                if before == nil { insertInOrder(path, roots: directories) }
                let after = files[path]!
                if (before?.manifests ?? []) != after.manifests || (before?.errors ?? []) != after.errors {
                    changed = true
                    edits.append((before, after))
                }
            } else if let before {
                files.removeValue(forKey: path)
                order.removeAll { $0.path == path }
                if !before.manifests.isEmpty || !before.errors.isEmpty {
                    changed = true
                    edits.append((before, nil))
                }
            }
        }
        // What was decoded ahead for these files and not taken is stale.
        for path in paths { prepared.removeValue(forKey: path) }
        guard changed else { return .unchanged }
        return .changed(patched(edits, roots: directories.count) ?? assemble(roots: directories.count))
    }

    /// The last set with the objects of the edited files put in place: what ``assemble(roots:)``
    /// gives, without reading every file's objects into a new set, so that the kinds the
    /// edits left alone keep their revisions (and a translation finds them unchanged in
    /// a few comparisons). Nil — assemble — where an object is defined twice, before or
    /// after: which definition wins depends on the order of every file.
    private func patched(_ edits: [(before: FileEntry?, after: FileEntry?)], roots: Int) -> ResourceSet? {
        guard var set = last.flatMap({ $0.duplicates ? nil : $0.set }) else { return nil }
        // Each object was defined once, so the edited files' old objects are theirs.
        for edit in edits {
            for manifest in edit.before?.manifests ?? [] { set.replace(manifest.object.key, with: nil) }
        }
        for edit in edits {
            for manifest in edit.after?.manifests ?? [] {
                guard set[manifest.object.key] == nil else { return nil }
                set.replace(manifest.object.key, with: manifest)
            }
        }
        if edits.contains(where: { ($0.before?.errors ?? []) != ($0.after?.errors ?? []) }) {
            set.replaceErrors(with: errors(roots: roots))
        }
        last = (set, false)
        patches += 1
        return set
    }

    /// Every missing root's and file's errors, in walk order.
    private func errors(roots: Int) -> [ManifestError] {
        var errors: [ManifestError] = []
        var next = order.startIndex
        for root in 0..<roots {
            if let missing = missingRoots[root] { errors.append(missing) }
            while next < order.endIndex, order[next].root == root {
                errors += files[order[next].path]?.errors ?? []
                next += 1
            }
        }
        return errors
    }

    /// Puts a newly seen file where a walk would find it: by root, then name by name.
    private func insertInOrder(_ path: String, roots: [String]) {
        let key = Self.walkKey(path, roots: roots)
        var low = 0
        var high = order.count
        while low < high {
            let middle = (low + high) / 2
            if Self.walkKey(order[middle].path, roots: roots) < key { low = middle + 1 } else { high = middle }
        }
        order.insert((key.root, path), at: low)
    }

    /// A path's place in walk order: the index of its root, then its components below it.
    struct WalkKey: Comparable {
        var root: Int
        var components: [Substring]

        static func < (a: WalkKey, b: WalkKey) -> Bool {
            if a.root != b.root { return a.root < b.root }
            return a.components.lexicographicallyPrecedes(b.components) { String($0) < String($1) }
        }
    }

    static func walkKey(_ path: String, roots: [String]) -> WalkKey {
        for (index, root) in roots.enumerated() {
            let prefix = (root as NSString).appendingPathComponent("")
            let base = prefix.hasSuffix("/") ? prefix : prefix + "/"
            if path.hasPrefix(base) {
                return WalkKey(root: index, components: path.dropFirst(base.count).split(separator: "/"))
            }
        }
        return WalkKey(root: roots.count, components: path.split(separator: "/"))
    }

    /// Whether one root lies inside another (or is given twice): a walk then reads some
    /// files twice, which only a full walk reproduces.
    static func rootsOverlap(_ roots: [String]) -> Bool {
        let bases = roots.map { root -> String in
            let normalized = (root as NSString).standardizingPath
            return normalized.hasSuffix("/") ? normalized : normalized + "/"
        }
        for (i, a) in bases.enumerated() {
            for b in bases[(i + 1)...] where a.hasPrefix(b) || b.hasPrefix(a) { return true }
        }
        return false
    }

    /// Reads one file unless its `stat` is unchanged (and the stat is trusted); false when
    /// it cannot be read.
    private func read(_ path: String, limits: SourceLimits, logger: Logger, trustStamp: Bool = true) -> Bool {
        let stamp = Stamp(path: path)
        if trustStamp, let stamp, let known = files[path], known.stamp == stamp { return true }
        if let size = stamp?.size, size > limits.maxFileBytes {
            // Not read at all: what the file had before stays in force.
            let previous = files[path]?.manifests ?? []
            let kept = previous.isEmpty ? "" : " (its previous \(previous.count) objects stay in force)"
            let error = ManifestError(
                file: path, line: 1,
                message:
                    "not read: the file is \(SourceLimits.describe(Int(size))), over the limit of \(SourceLimits.describe(limits.maxFileBytes)) (--max-file-size)\(kept)"
            )
            if files[path]?.errors != [error] { logger.error("config file too large", metadata: ["error": "\(error)"]) }
            files[path] = FileEntry(contents: Data(), stamp: stamp, manifests: previous, errors: [error])
            return true
        }
        guard let contents = FileManager.default.contents(atPath: path) else {
            files.removeValue(forKey: path)
            return false
        }
        if files[path]?.contents != contents {
            let decoded = takePrepared(path, contents: contents) ?? Self.decode(path, contents, limits: limits)
            var entry = FileEntry(contents: contents, stamp: stamp, manifests: decoded.manifests, errors: decoded.errors)
            if let fileError = decoded.fileError {
                // Keep what this file had before; say why it was not re-read.
                entry.manifests = files[path]?.manifests ?? []
                let kept = entry.manifests.isEmpty ? "" : " (its previous \(entry.manifests.count) objects stay in force)"
                var error = fileError
                error.message += kept
                entry.errors = [error]
                logger.error("cannot read config file", metadata: ["error": "\(error)"])
            } else {
                for error in decoded.errors { logger.warning("rejected object", metadata: ["error": "\(error)"]) }
            }
            files[path] = entry
        } else {
            files[path]!.stamp = stamp
        }
        return true
    }

    /// Decodes files that a writer just finished (closed, or renamed into place), while
    /// the source waits for the burst to pause: the read that follows finds them decoded
    /// if their contents are still the same. Decoding is a function of the path and the
    /// contents, so what is read is what a read would decode. A file over the size limit,
    /// or unchanged since it was read, is left to the read.
    func prepare(_ paths: [String], limits: SourceLimits) {
        for path in paths {
            guard let stamp = Stamp(path: path), stamp.size <= limits.maxFileBytes,
                let contents = FileManager.default.contents(atPath: path)
            else { continue }
            let known = lock.withLock { files[path]?.contents == contents || prepared[path]?.contents == contents }
            if known { continue }
            let decoded = Self.decode(path, contents, limits: limits)
            lock.withLock { prepared[path] = (contents, decoded) }
        }
    }

    /// What a file's contents decode to: the one decoding both a read and ``prepare(_:limits:)`` make.
    private static func decode(_ path: String, _ contents: Data, limits: SourceLimits) -> ManifestDecoder.Result {
        ManifestDecoder.decode(
            file: path, contents: String(decoding: contents, as: UTF8.self), maxObjectBytes: limits.maxObjectBytes)
    }

    /// The prepared decoding of `path` if it decoded `contents` (called with the lock held).
    private func takePrepared(_ path: String, contents: Data) -> ManifestDecoder.Result? {
        guard let entry = prepared.removeValue(forKey: path), entry.contents == contents else { return nil }
        preparedReads += 1
        return entry.decoded
    }

    /// The set of every file read, in walk order (a missing root's error where its files
    /// would be).
    private func assemble(roots: Int) -> ResourceSet {
        let manifests = order.flatMap { files[$0.path]?.manifests ?? [] }
        let errors = errors(roots: roots)
        let set = ResourceSet(manifests: manifests, errors: errors)
        last = (set, set.manifests.count != manifests.count)
        return set
    }

    /// Files and directories under `root`, sorted, skipping hidden names, following
    /// symlinks. `linked` becomes true if any name is a symlink (dangling ones too: their
    /// target may come back) or a manifest file with several hard links.
    static func walk(_ root: String, linked: inout Bool) -> [(String, Bool)] {
        var result: [(String, Bool)] = []
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return [] }
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = (root as NSString).appendingPathComponent(name)
            if !linked, isLinked(path) { linked = true }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                result.append((path, true))
                result += walk(path, linked: &linked)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.hasSuffix(".json") {
                result.append((path, false))
            }
        }
        return result
    }
}

/// inotify on every watched directory, plus a periodic tick as a safety net. It keeps
/// what changed since it was last asked (``take()``) and when the last change came.
final class DirectoryWatcher: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var watched: [String: Int32] = [:]
    private var directoryOf: [Int32: String] = [:]
    private var pending = Changes()
    /// Manifest files a writer finished (closed after writing, or renamed into place)
    /// since the handler last looked: decoded ahead of the read (``FileSourceState/prepare(_:limits:)``).
    private var finished: [String] = []
    /// Whether a batch is being decoded ahead: at most one at a time, and only small
    /// ones, so a large burst (a `git checkout`) is decoded once, by the read.
    private var preparing = false
    static let preparedAtMost = 16
    private let prepareQueue = DispatchQueue(label: "chancery.inotify.prepare")
    /// Whether one directory is watched under two paths (a symlink to a directory):
    /// inotify reports it under one of them, so every change then walks.
    private var aliased = false
    private let logger: Logger
    let clock = ChangeClock()
    /// How long the last walk that found nothing new took: the safety rescan waits at
    /// least ``safetyRescanFactor`` times as long between walks.
    private var lastWalk: Duration = .zero

    /// A safety rescan walks every file (at 10,000 files about 80 ms of one core here),
    /// and a change that arrives meanwhile waits for it: with inotify working, the safety
    /// walks are spaced at least this many walks' time apart, so they never take more
    /// than 2 % of a core. Without inotify they are the only way changes are seen, and
    /// keep their interval.
    static let safetyRescanFactor = 50

    /// What changed: manifest files by path, or anything that needs a walk.
    struct Changes {
        var paths: Set<String> = []
        var everything = false
        /// A hidden name changed: it matters only where files are reached through links.
        var hidden = false
    }

    init(logger: Logger) {
        self.logger = logger
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        if fd < 0 { logger.warning("inotify is unavailable; changes are picked up by periodic rescans") }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Watches exactly `directories` (those of the last walk); returns whether a watch
    /// was added (a directory new since the last call, or replaced under its name).
    @discardableResult
    func watch(_ directories: [String]) -> Bool {
        guard fd >= 0 else { return false }
        lock.lock()
        defer { lock.unlock() }
        let mask = UInt32(IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB)
            | UInt32(IN_DELETE_SELF | IN_MOVE_SELF)
        // Every directory is asked for again: inotify answers with the watch it already
        // has for that directory, or a new one for a directory replaced or moved under
        // this name, so the table always names what each watch watches now.
        let known = Set(directoryOf.keys)
        var now: [String: Int32] = [:]
        for directory in directories {
            let wd = inotify_add_watch(fd, directory, mask)
            if wd >= 0 { now[directory] = wd }
        }
        let kept = Set(now.values)
        for wd in known where !kept.contains(wd) { inotify_rm_watch(fd, wd) }
        watched = now
        directoryOf = Dictionary(now.map { ($1, $0) }, uniquingKeysWith: { a, b in min(a, b) })
        // One directory under two paths (a symlink to a directory): inotify reports it
        // under one of them, so every change then walks.
        aliased = directoryOf.count < watched.count
        return !kept.isSubset(of: known)
    }

    /// Hands the files finished since the last call to `prepare`, unless there is none, a
    /// batch is being prepared or this one is large; forgets them either way.
    private func prepareFinished(_ prepare: (@Sendable ([String]) -> Void)?) {
        let batch: [String]? = lock.withLock {
            defer { finished = [] }
            guard prepare != nil, !preparing, !finished.isEmpty, finished.count <= Self.preparedAtMost else { return nil }
            preparing = true
            return Array(Set(finished))
        }
        guard let batch, let prepare else { return }
        prepareQueue.async { [self] in
            prepare(batch)
            lock.withLock { preparing = false }
        }
    }

    /// Records how long a walk took (see ``safetyRescanFactor``).
    func noteWalk(took duration: Duration) {
        lock.withLock { lastWalk = duration }
    }

    /// The time until the next safety rescan.
    func safetyInterval(_ base: Duration) -> Duration {
        guard fd >= 0 else { return base }
        return max(base, lock.withLock { lastWalk } * Self.safetyRescanFactor)
    }

    /// What changed since the last call.
    func take() -> Changes {
        lock.withLock {
            defer { pending = Changes() }
            return pending
        }
    }

    /// Records one inotify event.
    private func record(wd: Int32, mask: UInt32, name: String) {
        let needsWalk = UInt32(IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_ISDIR)
        guard mask & needsWalk == 0, !name.isEmpty, !aliased, let directory = directoryOf[wd] else {
            pending.everything = true
            return
        }
        let path = (directory as NSString).appendingPathComponent(name)
        if watched[path] != nil {
            // A directory of the last walk, by a name that is not one now (a symlink to
            // it was removed or replaced).
            pending.everything = true
            return
        }
        if name.hasPrefix(".") {
            // Hidden names are never read, but a hidden symlink or directory may be what
            // visible symlinks point through (a ConfigMap volume's `..data`).
            var info = stat()
            if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK || (info.st_mode & S_IFMT) == S_IFDIR {
                pending.everything = true
            }
            pending.hidden = true
            return
        }
        if name.hasSuffix(".yaml") || name.hasSuffix(".yml") || name.hasSuffix(".json") {
            pending.paths.insert(path)
            if mask & UInt32(IN_CLOSE_WRITE | IN_MOVED_TO) != 0 { finished.append(path) }
        } else {
            // Not a manifest's name: it may be a directory, or a symlink to one, to walk.
            pending.everything = true
        }
    }

    /// Parses a buffer of `struct inotify_event`s.
    private func record(events buffer: UnsafeRawBufferPointer) {
        let header = MemoryLayout<inotify_event>.size
        var offset = 0
        lock.lock()
        defer { lock.unlock() }
        while offset + header <= buffer.count {
            let wd = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameBytes = UnsafeRawBufferPointer(rebasing: buffer[(offset + header)..<min(offset + header + length, buffer.count)])
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            record(wd: wd, mask: mask, name: name)
            offset += header + length
        }
    }

    /// A value whenever something changed (or the safety interval passed). `prepare` is
    /// handed, on a queue of its own, the few files a writer just finished.
    func events(safetyRescan: Duration, prepare: (@Sendable ([String]) -> Void)? = nil) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        var source: (any DispatchSourceRead)?
        if fd >= 0 {
            let read = DispatchSource.makeReadSource(fileDescriptor: fd, queue: DispatchQueue(label: "chancery.inotify"))
            let fd = self.fd
            read.setEventHandler { [self] in
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    guard count > 0 else { break }
                    buffer.withUnsafeBytes { record(events: UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                }
                clock.note()
                continuation.yield()
                self.prepareFinished(prepare)
            }
            read.resume()
            source = read
        }
        let ticker = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: safetyInterval(safetyRescan))
                lock.withLock { pending.everything = true }
                continuation.yield()
            }
        }
        let retained = SourceBox(source: source, watcher: self)
        continuation.onTermination = { _ in
            retained.source?.cancel()
            ticker.cancel()
        }
        return stream
    }
}

/// Keeps the dispatch source (and the watcher owning the inotify descriptor) alive for
/// as long as the event stream is.
private final class SourceBox: @unchecked Sendable {
    let source: (any DispatchSourceRead)?
    let watcher: DirectoryWatcher

    init(source: (any DispatchSourceRead)?, watcher: DirectoryWatcher) {
        self.source = source
        self.watcher = watcher
    }
}
