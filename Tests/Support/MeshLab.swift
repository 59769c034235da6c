import Foundation

/// Network namespaces for mesh tests: one per Pod, each with a veth to a bridge in a
/// namespace of its own (the "node": its address is the Pods' gateway), all made and
/// removed by the test. Nothing is added to the host's namespace; traffic stays inside
/// these namespaces (and Chancery is reached over a unix socket, which namespaces share).
///
/// Needs root, `ip` (iproute2), `iptables-restore` and `setpriv`; creating the first
/// namespace fails with the reason when it cannot.
public final class MeshLab: @unchecked Sendable {
    /// Prefix of every namespace name: unique per test process and lab.
    public let prefix: String
    /// The node's namespace, with the bridge `br0` and the gateway address.
    public let node: String
    public let gateway: String
    /// Prefix length of the Pods' network.
    public let subnetBits = 24
    public let directory: URL
    private let lock = NSLock()
    private var namespaces: [String] = []
    private var processes: [ChildProcess] = []
    private var links = 0

    public struct Failed: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Makes the node namespace with its bridge at `gateway` (e.g. 10.77.0.1).
    public init(name: String, gateway: String) throws {
        prefix = "ch\(getpid() % 100_000)\(name)"
        node = prefix + "-node"
        self.gateway = gateway
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("chancery-mesh-\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard getuid() == 0 else {
            throw Failed(description: "mesh tests make network namespaces, veth pairs and iptables rules: run them as root (uid \(getuid()))")
        }
        for tool in ["/usr/sbin/iptables-restore", "/usr/bin/setpriv"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw Failed(description: "mesh tests need \(tool) (scripts/test installs iptables and util-linux as root)")
        }
        sweep()
        try addNamespace(node)
        try ip(["-n", node, "link", "add", "br0", "type", "bridge"])
        try ip(["-n", node, "addr", "add", "\(gateway)/\(subnetBits)", "dev", "br0"])
        try ip(["-n", node, "link", "set", "br0", "up"])
    }

    /// A Pod's namespace at `address`, wired to the node's bridge, routing everything
    /// through the node. Returns the namespace's name.
    @discardableResult
    public func addPod(_ name: String, address: String) throws -> String {
        let namespace = "\(prefix)-\(name)"
        try addNamespace(namespace)
        let link = lock.withLock {
            links += 1
            return "veth\(links)"
        }
        try ip(["-n", node, "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", namespace])
        try ip(["-n", node, "link", "set", link, "master", "br0", "up"])
        try ip(["-n", namespace, "addr", "add", "\(address)/\(subnetBits)", "dev", "eth0"])
        try ip(["-n", namespace, "link", "set", "eth0", "up"])
        try ip(["-n", namespace, "route", "add", "default", "via", gateway])
        return namespace
    }

    /// Removes the namespaces of labs whose test process is gone (killed before it could
    /// clean up): `ch<pid><lab>-…` with no process `pid`.
    private func sweep() {
        let listed = (try? run("/usr/sbin/ip", ["netns", "list"]).1) ?? ""
        for line in listed.split(separator: "\n") {
            let name = String(line.split(separator: " ")[0])
            guard name.hasPrefix("ch"), let dash = name.firstIndex(of: "-") else { continue }
            let digits = name.dropFirst(2).prefix { $0.isNumber }
            guard let pid = Int32(digits), !digits.isEmpty, name[name.index(name.startIndex, offsetBy: 2 + digits.count)..<dash].allSatisfy(\.isLetter)
            else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { _ = try? run("/usr/sbin/ip", ["netns", "del", name]) }
        }
    }

    private func addNamespace(_ name: String) throws {
        _ = try? run("/usr/sbin/ip", ["netns", "del", name])  // a leftover of a killed run
        try ip(["netns", "add", name])
        lock.withLock { namespaces.append(name) }
        try ip(["-n", name, "link", "set", "lo", "up"])
    }

    /// Runs `ip` and waits; throws with its output when it fails.
    public func ip(_ arguments: [String]) throws {
        let (status, output) = try run("/usr/sbin/ip", arguments)
        guard status == 0 else {
            throw Failed(description: "ip \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
        }
    }

    /// Runs `work` on a thread of its own: commands are waited for by blocking, which must
    /// not hold one of Swift concurrency's few threads (other tests' async work would
    /// stall behind it).
    public static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Runs a command inside `namespace` and waits: its exit status and output.
    public func exec(in namespace: String, _ command: [String]) throws -> (status: Int32, output: String) {
        try run("/usr/sbin/ip", ["netns", "exec", namespace] + command)
    }

    /// Starts a long-running command inside `namespace`, stopped with the lab. With a
    /// `group`, it runs with that group id (the proxy's, whose connections mesh-init's
    /// rules leave alone).
    @discardableResult
    public func start(in namespace: String, _ command: [String], group: Int? = nil, log: String) throws -> ChildProcess {
        let prefix = group.map { ["/usr/bin/setpriv", "--regid", String($0), "--clear-groups", "--"] } ?? []
        let process = try ChildProcess(
            executable: "/usr/sbin/ip", arguments: ["netns", "exec", namespace] + prefix + command,
            output: directory.appendingPathComponent(log).path)
        lock.withLock { processes.append(process) }
        return process
    }

    /// What a started command wrote so far.
    public func log(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let output = directory.appendingPathComponent("run-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = try ChildProcess(executable: executable, arguments: arguments, output: output.path)
        let status = process.wait()
        return (status, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }

    /// Stops every process and removes every namespace (and with them their veths,
    /// bridge and iptables rules).
    public func remove() {
        let (started, made) = lock.withLock {
            defer {
                processes = []
                namespaces = []
            }
            return (processes, namespaces)
        }
        for process in started { process.stop(grace: .seconds(2)) }
        for namespace in made.reversed() { _ = try? run("/usr/sbin/ip", ["netns", "del", namespace]) }
    }

    /// The namespaces this lab still has (for tests proving clean-up).
    public var remaining: [String] {
        let listed = (try? run("/usr/sbin/ip", ["netns", "list"]).1) ?? ""
        return listed.split(separator: "\n").map { String($0.split(separator: " ")[0]) }.filter { $0.hasPrefix(prefix + "-") }
    }

    deinit {
        remove()
        try? FileManager.default.removeItem(at: directory)
    }
}
