/// The Gateway API's enumerated strings as types.
///
/// Each is open (any string decodes, as the API server would store it) so that reading
/// never fails on a value the schema check reports later with its field path; code
/// compares against the named constants instead of spelling strings. They encode and
/// decode as plain strings (the standard library's `RawRepresentable` coding).
public protocol Vocabulary: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible
where RawValue == String {
    init(rawValue: String)
}

extension Vocabulary {
    public var description: String { rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A listener's `protocol`.
public struct ProtocolType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let http = Self(rawValue: "HTTP")
    public static let https = Self(rawValue: "HTTPS")
    public static let tls = Self(rawValue: "TLS")
    public static let tcp = Self(rawValue: "TCP")
    public static let udp = Self(rawValue: "UDP")
    /// Every protocol Chancery serves.
    public static let served: [Self] = [.http, .https, .tls, .tcp, .udp]
}

/// A listener's `tls.mode`.
public struct TLSModeType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let terminate = Self(rawValue: "Terminate")
    public static let passthrough = Self(rawValue: "Passthrough")
}

/// `allowedRoutes.namespaces.from`.
public struct FromNamespaces: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let all = Self(rawValue: "All")
    public static let same = Self(rawValue: "Same")
    public static let selector = Self(rawValue: "Selector")
    /// `allowedListeners` only: no ListenerSet may attach (its default).
    public static let noNamespace = Self(rawValue: "None")
}

/// A Gateway address's `type`.
public struct AddressType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let ipAddress = Self(rawValue: "IPAddress")
    public static let hostname = Self(rawValue: "Hostname")
}

/// An EndpointSlice's `addressType`.
public struct EndpointAddressType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let ipv4 = Self(rawValue: "IPv4")
    public static let ipv6 = Self(rawValue: "IPv6")
    public static let fqdn = Self(rawValue: "FQDN")
}

/// An HTTPRoute path match's `type`.
public struct PathMatchType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let exact = Self(rawValue: "Exact")
    public static let pathPrefix = Self(rawValue: "PathPrefix")
    public static let regularExpression = Self(rawValue: "RegularExpression")
}

/// The `type` of header, query parameter and gRPC method matches: the spec's
/// HeaderMatchType, QueryParamMatchType and GRPCMethodMatchType share their values.
public struct StringMatchType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let exact = Self(rawValue: "Exact")
    public static let regularExpression = Self(rawValue: "RegularExpression")
}

/// An HTTPRoute or GRPCRoute filter's `type`.
public struct HTTPRouteFilterType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let requestHeaderModifier = Self(rawValue: "RequestHeaderModifier")
    public static let responseHeaderModifier = Self(rawValue: "ResponseHeaderModifier")
    public static let requestRedirect = Self(rawValue: "RequestRedirect")
    public static let urlRewrite = Self(rawValue: "URLRewrite")
    public static let requestMirror = Self(rawValue: "RequestMirror")
    public static let extensionRef = Self(rawValue: "ExtensionRef")
    public static let cors = Self(rawValue: "CORS")
}

/// A redirect's or rewrite's `path.type`.
public struct HTTPPathModifierType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let replaceFullPath = Self(rawValue: "ReplaceFullPath")
    public static let replacePrefixMatch = Self(rawValue: "ReplacePrefixMatch")
}

/// A BackendTLSPolicy subjectAltName's `type`.
public struct SubjectAltNameType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let hostname = Self(rawValue: "Hostname")
    public static let uri = Self(rawValue: "URI")
}

/// BackendTLSPolicy `validation.wellKnownCACertificates`.
public struct WellKnownCACertificatesType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let system = Self(rawValue: "System")
}

/// A route rule's `sessionPersistence.type`.
public struct SessionPersistenceType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let cookie = Self(rawValue: "Cookie")
    public static let header = Self(rawValue: "Header")
}

/// A session cookie's `cookieConfig.lifetimeType`.
public struct CookieLifetimeType: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let session = Self(rawValue: "Session")
    public static let permanent = Self(rawValue: "Permanent")
}

/// A Gateway's `tls.frontend` validation `mode`.
public struct FrontendValidationMode: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let allowValidOnly = Self(rawValue: "AllowValidOnly")
    public static let allowInsecureFallback = Self(rawValue: "AllowInsecureFallback")
}

/// An HTTP method as HTTPRoute matches name it.
public struct HTTPMethod: Vocabulary {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The methods an HTTPRoute match may name.
    public static let matchable: [Self] = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
        .map(Self.init(rawValue:))
    public static let options = Self(rawValue: "OPTIONS")
}
