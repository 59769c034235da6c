import Admin
import EnvoyAPI
import EnvoyBuild
import Foundation
import Testing

/// SDS secrets as the admin API shows them: everything but the key material.
@Suite struct RedactionTests {
    @Test func privateKeysAndPasswordsAreReplaced() throws {
        var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        secret.name = "shop-cert"
        var certificate = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
        certificate.certificateChain.inlineString = "-----BEGIN CERTIFICATE-----\nPUBLIC\n-----END CERTIFICATE-----\n"
        certificate.privateKey.inlineString = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYBYTES\n-----END PRIVATE KEY-----\n"
        certificate.password.inlineBytes = Data("hunter2".utf8)
        secret.tlsCertificate = certificate
        let json = try EnvoyJSON.encode(secret)
        #expect(json.contains("TOPSECRETKEYBYTES"), "the raw JSON has the key; redaction must remove it")
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8))
        let redacted = Redaction.redact(object)
        let text = String(
            decoding: try JSONSerialization.data(withJSONObject: redacted, options: [.sortedKeys]), as: UTF8.self)
        #expect(!text.contains("TOPSECRETKEYBYTES"))
        #expect(!text.contains(Data("hunter2".utf8).base64EncodedString()))
        #expect(text.contains("PUBLIC"), "the certificate itself stays visible")
        #expect(text.contains("\"private_key\":\"[redacted]\""))
        #expect(text.contains("shop-cert"))
    }

    @Test func apiKeysAndPasswordHashesAreReplaced() throws {
        var keys = Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_ApiKeyAuthPerRoute()
        var credential = Envoy_Extensions_Filters_Http_ApiKeyAuth_V3_Credential()
        credential.client = "client-a"
        credential.key = "SECRETAPIKEY"
        keys.credentials = [credential]
        var users = Envoy_Extensions_Filters_Http_BasicAuth_V3_BasicAuthPerRoute()
        users.users.inlineString = "alice:{SHA}HASHOFPASSWORD="
        var route = Envoy_Config_Route_V3_Route()
        route.typedPerFilterConfig = [
            "envoy.filters.http.api_key_auth": try .packing(keys), "envoy.filters.http.basic_auth": try .packing(users),
        ]
        let json = try EnvoyJSON.encode(route)
        #expect(json.contains("SECRETAPIKEY") && json.contains("HASHOFPASSWORD"), "the raw JSON has them")
        let redacted = Redaction.redact(try JSONSerialization.jsonObject(with: Data(json.utf8)))
        let text = String(decoding: try JSONSerialization.data(withJSONObject: redacted, options: [.sortedKeys]), as: UTF8.self)
        #expect(!text.contains("SECRETAPIKEY") && !text.contains("HASHOFPASSWORD"), "\(text)")
        #expect(text.contains("client-a"), "client IDs stay visible")
    }
}
