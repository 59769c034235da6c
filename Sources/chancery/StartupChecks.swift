import ArgumentParser
import Foundation
import XDS

#if canImport(Glibc)
    import Glibc
#endif

/// What `serve` and the offline commands check before they start, so that a typo or a
/// busy port fails at once with the path or address and the reason, instead of a
/// server that serves nothing.
enum StartupChecks {
    /// Every `--config-dir` names a directory that can be read.
    static func configDirectories(_ paths: [String]) throws {
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ValidationError("--config-dir \(path): no such directory")
            }
            guard isDirectory.boolValue else { throw ValidationError("--config-dir \(path): not a directory") }
            do {
                _ = try FileManager.default.contentsOfDirectory(atPath: path)
            } catch {
                throw ValidationError("--config-dir \(path): cannot be read (\(error.localizedDescription))")
            }
        }
    }

    /// `address` can be listened on: binds it for a moment and lets go. Port 0 and host
    /// names other than `localhost` are left to the server.
    static func canListen(on address: HostPort, flag: String) throws {
        guard address.port != 0 else { return }
        let host = address.host == "localhost" ? "127.0.0.1" : address.host
        let family = host.contains(":") ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var yes: Int32 = 1
        // As servers do, so a port in TIME_WAIT after a restart is not taken for busy.
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        func bind<Address>(_ socketAddress: Address) -> Int32 {
            var socketAddress = socketAddress
            return withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<Address>.size)) }
            }
        }
        let result: Int32
        if family == AF_INET6 {
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_port = in_port_t(UInt16(address.port).bigEndian)
            guard inet_pton(AF_INET6, host, &socketAddress.sin6_addr) == 1 else { return }
            result = bind(socketAddress)
        } else {
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_port = in_port_t(UInt16(address.port).bigEndian)
            guard inet_pton(AF_INET, host, &socketAddress.sin_addr) == 1 else { return }
            result = bind(socketAddress)
        }
        guard result == 0 else {
            let code = errno
            let reason = String(cString: strerror(code))
            let hint = code == EADDRINUSE ? "; another process listens there: stop it or give \(flag) another port" : ""
            throw ValidationError("\(flag) \(address): cannot listen: \(reason)\(hint)")
        }
    }
}
