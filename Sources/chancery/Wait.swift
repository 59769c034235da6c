import ArgumentParser
import Foundation
import GatewayModel
import XDS


extension Chancery {
    struct Wait: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Wait until every connected proxy of a group has ACKed a version.",
            discussion: """
                Exits 0 once every proxy of the group connected to Chancery holds the group's
                current version, or --version, or (with --config-dir or --file) the version that
                serving those manifests gives: what `chancery plan` names, so that waiting right
                after saving a file never settles for the version before it. Exits 1 on timeout, listing the proxies that
                lag and why (a NACK's message, or what they still wait for), and at once when
                the proxies hold the version but objects of the group are quarantined (a
                proxy rejected what they produced; they are left out until they change).
                  kubectl apply -f route.yaml && chancery wait --admin 127.0.0.1:19000 --group default/gw
                """)

        @OptionGroup var connection: AdminClientOptions

        @Option(help: "Proxy group to wait for.")
        var group: String

        @Option(help: "Snapshot version to wait for (default: the group's current one).")
        var version: String?

        @OptionGroup var candidate: CandidateOptions

        @Option(help: "How long to wait: 30s, 2m, 500ms.")
        var timeout: String = "30s"

        @Flag(help: "Succeed even when no proxy of the group is connected.")
        var allowNoProxies = false

        func run() async throws {
            guard let millis = GatewayDuration.milliseconds(in: timeout), millis > 0 else {
                throw ValidationError("--timeout '\(timeout)' is not a duration like 30s, 2m or 500ms")
            }
            let client = try connection.client()
            let deadline = Date().addingTimeInterval(Double(millis) / 1000)
            let encodedGroup = AdminClient.segment(group)
            var version = self.version
            // A group the files create is not there until the server reads them.
            var newGroup = false
            if version == nil, !candidate.isEmpty {
                // The group's version once these files are served: planned if the server
                // has not read them yet, else the one it serves.
                let plan = try await candidate.plan(with: client)
                if plan["wouldReject"].bool == true {
                    FileHandle.standardError.write(Data("the manifests would be rejected (chancery plan says why)\n".utf8))
                    throw ExitCode(1)
                }
                if let entry = plan["groups"].array.first(where: { $0["group"].string == group }) {
                    guard let planned = entry["planned"].string else {
                        FileHandle.standardError.write(Data("with these manifests there is no proxy group \(group): nothing to wait for\n".utf8))
                        throw ExitCode(1)
                    }
                    version = planned
                    newGroup = entry["serving"].string == nil
                }
            }
            var lastReport = "no answer from the admin endpoint yet"
            var final = false
            while true {
                do {
                    let target: String
                    if let version {
                        target = version
                    } else {
                        target = try await client.get("/api/v1/snapshots/\(encodedGroup)?type=none")["version"].string ?? ""
                    }
                    let summary = try await client.get("/api/v1/snapshots/\(encodedGroup)/versions/\(AdminClient.segment(target))")
                    let proxies = summary["proxies"].array
                    let laggards = proxies.filter { $0["inSync"].bool != true }
                    let quarantined = summary["quarantined"].array.compactMap(\.stringValue)
                    if !proxies.isEmpty || allowNoProxies, laggards.isEmpty {
                        guard quarantined.isEmpty else {
                            // The proxies hold the version, but it leaves out a change they
                            // rejected: waiting longer will not bring it.
                            FileHandle.standardError.write(
                                Data(
                                    ("all \(proxies.count) proxies of \(group) hold version \(target), "
                                        + "but it leaves out what they rejected (quarantined until changed):\n"
                                        + quarantined.map { "  \($0)" }.joined(separator: "\n") + "\n").utf8))
                            throw ExitCode(1)
                        }
                        say("all \(proxies.count) proxies of \(group) hold version \(target)")
                        return
                    }
                    lastReport =
                        proxies.isEmpty
                        ? "no proxy of group \(group) is connected"
                        : "waiting for version \(target):\n"
                            + laggards.map { proxy in
                                let node = proxy["nodeID"].string ?? "?"
                                if let nack = proxy["nack"].string { return "  \(node): rejected it: \(nack)" }
                                return "  \(node): not yet ACKed"
                            }.joined(separator: "\n")
                } catch let exit as ExitCode {
                    throw exit
                } catch let error as AdminClient.Failure {
                    // An unknown version may appear soon; bad credentials and a group that
                    // is not there (a typo, most often: the message lists the groups) will
                    // not, unless the files being waited for create it.
                    lastReport = error.message
                    final = error.final && !(newGroup && error.code == "unknown_group")
                    if final { break }
                } catch {
                    lastReport = "\(error)"
                }
                if Date() > deadline { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            FileHandle.standardError.write(Data((final ? "\(lastReport)\n" : "timed out after \(timeout): \(lastReport)\n").utf8))
            throw ExitCode(1)
        }
    }
}
