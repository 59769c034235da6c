import Admin
import ArgumentParser
import AsyncHTTPClient
import ConfigSources
import Foundation
import GatewayModel
import NIOCore
import XDS

/// How the inspection commands reach a running server's admin API.
struct AdminClientOptions: ParsableArguments {
    @Option(help: "Chancery's admin address (HOST:PORT). (default: \(HostPort.defaultAdmin))", transform: parseHostPort)
    var admin: HostPort = .defaultAdmin

    @Option(help: "File holding the admin bearer token, if the endpoint needs one (or set \(AdminClient.tokenVariable)).")
    var adminTokenFile: String?

    func client() throws -> AdminClient {
        var token = ProcessInfo.processInfo.environment[AdminClient.tokenVariable]
        if let adminTokenFile {
            do {
                token = try String(contentsOfFile: adminTokenFile, encoding: .utf8)
            } catch {
                throw ValidationError("--admin-token-file \(adminTokenFile): \(error.localizedDescription)")
            }
        }
        token = token?.trimmingCharacters(in: .whitespacesAndNewlines)
        return AdminClient(address: admin, token: token?.isEmpty == true ? nil : token)
    }
}

/// A small HTTP client for the admin API: JSON in, ``JSONValue`` out, errors in the API's
/// own words.
struct AdminClient: Sendable {
    static let tokenVariable = "CHANCERY_ADMIN_TOKEN"
    let address: HostPort
    let token: String?

    /// The API said no: its message, and whether asking again could help.
    struct Failure: Error, CustomStringConvertible {
        let status: Int
        let code: String?
        let message: String
        /// Bad credentials, an unknown group, proxy, kind or object: asking again will not help.
        var final: Bool { status == 401 || status == 400 || (status == 404 && code != "unknown_version") }
        var description: String { message }
    }

    /// The server could not be reached at all.
    struct Unreachable: Error, CustomStringConvertible {
        let address: HostPort
        let reason: String
        var description: String {
            "cannot reach Chancery's admin endpoint at \(address): \(reason) (is chancery serve running there? --admin HOST:PORT)"
        }
    }

    func get(_ path: String) async throws -> JSONValue {
        try await send(HTTPClientRequest(url: "http://\(address)\(path)"), timeout: .seconds(10))
    }

    func post(_ path: String, json body: Data) async throws -> JSONValue {
        var request = HTTPClientRequest(url: "http://\(address)\(path)")
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: body))
        request.headers.add(name: "Content-Type", value: "application/json")
        // A plan translates and diffs a whole world: more than a lookup's time.
        return try await send(request, timeout: .seconds(120))
    }

    /// A path segment with `/` and the rest encoded (groups are `namespace/name`).
    static func segment(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["-", ".", "_", "~"])) ?? text
    }

    /// The largest answer read: a world's whole configuration dump fits many times over.
    private static let largestAnswer = 512 << 20

    /// `timeout` bounds the wait for the answer to begin; its body then has AsyncHTTPClient's
    /// read timeout between bytes.
    private func send(_ request: HTTPClientRequest, timeout: TimeAmount) async throws -> JSONValue {
        var request = request
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw Unreachable(address: address, reason: KubernetesSource.reason(error))
        }
        let status = Int(response.status.code)
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: Self.largestAnswer)
        } catch {
            throw Failure(
                status: status, code: nil,
                message: "the answer from \(address) (HTTP \(status)) could not be read whole: \(KubernetesSource.reason(error))")
        }
        let value: JSONValue? = try? JSONValue.parse(Data(body.readableBytesView))
        guard status == 200 else {
            throw Failure(
                status: status, code: value["error"]["code"].string,
                message: value["error"]["message"].string ?? "HTTP \(status) from \(address)")
        }
        return value ?? .null
    }
}

/// Reading the admin API's answers: `value["a"]["b"].string`, absent members read as nil.
extension Optional where Wrapped == JSONValue {
    subscript(key: String) -> JSONValue? { self?[key] }
    var string: String? { self?.stringValue }
    var bool: Bool? { self?.boolValue }
    var int: Int? { self?.intValue }
    var array: [JSONValue] { self?.arrayValue ?? [] }
    var object: [String: JSONValue] { self?.objectValue ?? [:] }
    var date: Date? { string.flatMap { try? Date($0, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) } }
}

extension JSONValue {
    /// Indented JSON, keys sorted.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self) + "\n"
    }

    /// Block-style YAML, keys sorted; strings quoted wherever plain YAML would read
    /// them as something else.
    var yaml: String {
        switch self {
        case .object(let fields) where !fields.isEmpty: yamlLines(indent: 0).joined(separator: "\n") + "\n"
        case .array(let values) where !values.isEmpty: yamlLines(indent: 0).joined(separator: "\n") + "\n"
        default: yamlScalar + "\n"
        }
    }

    private func yamlLines(indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .object(let fields):
            return fields.keys.sorted().flatMap { key -> [String] in
                let value = fields[key]!
                let name = JSONValue.string(key).yamlScalar
                if value.isNested { return ["\(pad)\(name):"] + value.yamlLines(indent: indent + 2) }
                return ["\(pad)\(name): \(value.yamlScalar)"]
            }
        case .array(let values):
            return values.flatMap { value -> [String] in
                guard value.isNested else { return ["\(pad)- \(value.yamlScalar)"] }
                var lines = value.yamlLines(indent: indent + 2)
                lines[0] = pad + "- " + lines[0].dropFirst(indent + 2)
                return lines
            }
        default:
            return [pad + yamlScalar]
        }
    }

    private var isNested: Bool {
        switch self {
        case .object(let fields): !fields.isEmpty
        case .array(let values): !values.isEmpty
        default: false
        }
    }

    private var yamlScalar: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return "\(value)"
        case .double: return text
        case .object: return "{}"
        case .array: return "[]"
        case .string(let text):
            let reserved: Set<String> = ["", "true", "false", "null", "yes", "no", "on", "off", "~", "y", "n"]
            // Nothing YAML could read as a number, a date or another type: no leading
            // digit, sign or dot.
            let plain =
                !reserved.contains(text.lowercased()) && !(text.first?.isNumber ?? true)
                && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "-_./".unicodeScalars.contains($0) }
                && !text.hasPrefix("-") && !text.hasPrefix(".")
            return plain ? text : JSONValue.string(text).text
        }
    }
}

/// `-o` of the inspection commands.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
    case yaml
}

/// Columns padded to their widest cell, two spaces apart.
func table(_ headers: [String], _ rows: [[String]]) -> String {
    let all = [headers] + rows
    let widths = headers.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.indices.map { column in
            column == row.count - 1 ? row[column] : row[column] + String(repeating: " ", count: widths[column] - row[column].count)
        }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}

func ago(_ date: Date?) -> String { Elapsed.short(since: date) }
