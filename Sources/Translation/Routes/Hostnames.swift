/// Gateway API hostname rules: `*.example.com` matches one or more labels in front of
/// `example.com`, never `example.com` itself.
enum Hostnames {
    static func matches(pattern: String, _ host: String) -> Bool {
        if pattern.hasPrefix("*.") {
            let suffix = pattern.dropFirst(1)  // ".example.com"
            if host.hasPrefix("*.") {
                // A wildcard is within another when its suffix is at least as long.
                return host.dropFirst(1).hasSuffix(suffix)
            }
            return host.hasSuffix(suffix) && host.count > suffix.count
        }
        return pattern == host
    }

    /// The hostnames a route serves on a listener: the spec's intersection. nil means
    /// "no overlap" (the route does not attach there); `["*"]` means any host.
    static func intersect(listener: String?, route: [String]) -> [String]? {
        guard let listener, !listener.isEmpty else { return route.isEmpty ? ["*"] : route }
        if route.isEmpty { return [listener] }
        var result: [String] = []
        for host in route {
            if matches(pattern: listener, host) {
                result.append(host)
            } else if matches(pattern: host, listener) {
                result.append(listener)
            }
        }
        let unique = Array(Set(result)).sorted()
        return unique.isEmpty ? nil : unique
    }
}
