/// What is running: `chancery --version` and the `chancery_build_info` metric.
public enum BuildInfo {
    /// Chancery's version, raised with each release.
    public static let version = "0.16.0"

    /// The Swift compiler that built it.
    public static let swift: String = {
        #if compiler(>=6.3)
            "6.3+"
        #elseif compiler(>=6.2)
            "6.2"
        #elseif compiler(>=6.1)
            "6.1"
        #else
            "6.0"
        #endif
    }()
}
