import EnvoyAPI
import Foundation
import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

/// A state-of-the-world response as written to a stream: a message, or — when the push
/// is a type's whole list in a snapshot, the same for every stream — the snapshot's
/// encoding of it with this stream's nonce added.
enum SotWResponse: Sendable {
    case message(DiscoveryResponse)
    /// `envelope`: `version_info`, `resources` and `type_url` encoded once per snapshot
    /// and type (``Snapshot/envelope(_:)``).
    case spliced(envelope: Data, nonce: String)
}

/// Writes ``SotWResponse``s. A spliced response is the envelope's bytes followed by the
/// nonce (field 5). SwiftProtobuf writes fields in number order and the envelope holds
/// fields 1, 2 and 4 only, so the bytes equal those of the whole message encoded at
/// once (`SotWResponseTests`).
struct SotWSerializer: MessageSerializer {
    /// Field 5 (`nonce`), length-delimited.
    private static let nonceTag: UInt8 = 5 << 3 | 2

    func serialize<Bytes: GRPCContiguousBytes>(_ response: SotWResponse) throws -> Bytes {
        switch response {
        case .message(let message):
            return try ProtobufSerializer<DiscoveryResponse>().serialize(message)
        case .spliced(let envelope, let nonce):
            var field: [UInt8] = []
            let text = Array(nonce.utf8)
            // proto3 leaves an empty string out.
            if !text.isEmpty {
                field.append(Self.nonceTag)
                var length = text.count
                while length >= 0x80 {
                    field.append(UInt8(truncatingIfNeeded: length) | 0x80)
                    length >>= 7
                }
                field.append(UInt8(length))
                field += text
            }
            var bytes = Bytes(repeating: 0, count: envelope.count + field.count)
            bytes.withUnsafeMutableBytes { out in
                envelope.copyBytes(to: out)
                UnsafeMutableRawBufferPointer(rebasing: out[envelope.count...]).copyBytes(from: field)
            }
            return bytes
        }
    }
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
