import Foundation

/// How long ago, as the page and the CLI's tables show it.
public enum Elapsed {
    /// `12s`, `4m`, `3h`, `2d`; `-` without a date.
    public static func short(since date: Date?, now: Date = Date()) -> String {
        guard let date else { return "-" }
        let seconds = max(0, Int(now.timeIntervalSince(date)))
        switch seconds {
        case ..<120: return "\(seconds)s"
        case ..<7200: return "\(seconds / 60)m"
        case ..<172_800: return "\(seconds / 3600)h"
        default: return "\(seconds / 86400)d"
        }
    }
}
