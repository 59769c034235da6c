import ArgumentParser
import Foundation
import Logging

/// `serve --log-format`.
enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text
    case json
}

/// One JSON object a line on standard error, for log collectors:
/// `{"time", "level", "logger", "message", …metadata}`; metadata values keep their shape
/// (strings, lists, nested objects), and a metadata key never overrides the fixed ones.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let explicit = event.metadata
        let level = event.level
        let message = event.message
        var fields: [String: Any] = [:]
        for (key, value) in metadata.merging(explicit ?? [:], uniquingKeysWith: { $1 }) { fields[key] = Self.json(value) }
        fields["time"] = Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        fields["level"] = level.rawValue
        fields["logger"] = label
        fields["message"] = message.description
        if let error = event.error { fields["error"] = "\(error)" }
        guard
            var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        data.append(UInt8(ascii: "\n"))
        FileHandle.standardError.write(data)
    }

    static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let value): value.description
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }
}
