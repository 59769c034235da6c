import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOCore
import SwiftProtobuf

/// A state-of-the-world response as written to a stream: a message, or — when the push
/// is a type's whole list in a snapshot with the snapshot's nonce for it, the same for
/// every stream — the snapshot's encoding of it (``Snapshot/wholeResponse(_:)``).
enum SotWResponse: Sendable {
    case message(DiscoveryResponse)
    case shared(ByteBuffer)
}

/// Writes ``SotWResponse``s. A shared response goes to gRPC's NIO transport as the
/// snapshot's buffer itself: a thousand streams sent a 10,000-cluster list make no copy
/// of it here (the transport's framing makes the one copy each stream's frames need).
struct SotWSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ response: SotWResponse) throws -> Bytes {
        switch response {
        case .message(let message):
            return try ProtobufSerializer<DiscoveryResponse>().serialize(message)
        case .shared(let buffer):
            if Bytes.self == GRPCNIOTransportBytes.self, let bytes = Self.transportBytes(sharing: buffer) {
                return bytes as! Bytes
            }
            var bytes = Bytes(repeating: 0, count: buffer.readableBytes)
            bytes.withUnsafeMutableBytes { out in
                buffer.withUnsafeReadableBytes { out.copyMemory(from: $0) }
            }
            return bytes
        }
    }

    /// The transport's bytes wrapping `buffer`'s storage, not a copy of it.
    ///
    /// `GRPCNIOTransportBytes` is a `ByteBuffer` and nothing else, but its initialiser
    /// from one is internal to the transport; this reinterprets the buffer as it. Whether
    /// that holds for the transport linked in is checked once, by wrapping a known buffer
    /// and reading it back through the transport's own API; if it does not hold, every
    /// response is copied as before (nil here).
    static func transportBytes(sharing buffer: ByteBuffer) -> GRPCNIOTransportBytes? {
        guard sharingHolds else { return nil }
        return unsafeBitCast(buffer, to: GRPCNIOTransportBytes.self)
    }

    static let sharingHolds: Bool = {
        guard MemoryLayout<GRPCNIOTransportBytes>.size == MemoryLayout<ByteBuffer>.size,
            MemoryLayout<GRPCNIOTransportBytes>.alignment == MemoryLayout<ByteBuffer>.alignment
        else { return false }
        var probe = ByteBuffer()
        probe.writeBytes([0x0A, 0x01, 0x31, 0x22, 0x02])
        probe.moveReaderIndex(forwardBy: 1)  // a view that starts inside its storage
        let wrapped = unsafeBitCast(probe, to: GRPCNIOTransportBytes.self)
        let sameBytes = wrapped.count == 4 && wrapped.withUnsafeBytes { Array($0) } == [0x01, 0x31, 0x22, 0x02]
        let sameStorage =
            wrapped.withUnsafeBytes { $0.baseAddress } == probe.withUnsafeReadableBytes { $0.baseAddress }
        return sameBytes && sameStorage
    }()
}

/// A generated discovery service with its state-of-the-world stream method registered
/// again to write ``SotWResponse``s (a later registration of a method replaces the
/// earlier); its other methods (delta, fetch) stay as generated.
struct SotWSplicing<Base: DiscoveryServing>: RegistrableRPCService {
    let base: Base

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        base.registerMethods(with: &router)
        let (core, served, service) = (base.core, Base.served, Base.name)
        router.registerHandler(
            forMethod: Base.stateOfTheWorldMethod,
            deserializer: ProtobufDeserializer<DiscoveryRequest>(),
            serializer: SotWSerializer(),
            handler: { request, context in
                StreamingServerResponse(of: SotWResponse.self) { writer in
                    try await core.stateOfTheWorld(
                        requests: request.messages, context: context, served: served, service: service, splice: true,
                        send: { try await writer.write($0) })
                    return [:]
                }
            })
    }
}
