import ArgumentParser
import ConfigSources
import Foundation
import XDS

/// Service account tokens checked with the Kubernetes API's TokenReview
/// (authentication.k8s.io/v1): how a sidecar without a certificate proves which Pod's
/// service account it runs as, as Istio's do.
struct KubeTokenReviewer: TokenReviewer {
    let client: KubeClient
    static let path = "/apis/authentication.k8s.io/v1/tokenreviews"

    func review(_ token: String) async -> Result<(namespace: String, serviceAccount: String), TokenRejection> {
        let review: [String: Any] = [
            "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": ["token": token],
        ]
        let response: KubeClient.Response
        do {
            response = try await client.send(.POST, Self.path, body: try JSONSerialization.data(withJSONObject: review))
        } catch {
            return .failure(TokenRejection("the TokenReview could not be sent: \(error)"))
        }
        guard response.status == 200 || response.status == 201 else {
            return .failure(
                TokenRejection(
                    "the API server answered the TokenReview with HTTP \(response.status)"
                        + (response.status == 403 ? " (Chancery's service account needs create on tokenreviews)" : "")))
        }
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let status = object["status"] as? [String: Any]
        else { return .failure(TokenRejection("the TokenReview's answer has no status")) }
        guard status["authenticated"] as? Bool == true else {
            return .failure(
                TokenRejection((status["error"] as? String).map { "the API server says: \($0)" } ?? "not authenticated", definitive: true))
        }
        let user = (status["user"] as? [String: Any])?["username"] as? String ?? ""
        // system:serviceaccount:<namespace>:<name>
        let parts = user.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount", !parts[2].isEmpty, !parts[3].isEmpty else {
            return .failure(TokenRejection("the token is \(user.isEmpty ? "no one's" : user + "'s"), not a service account's", definitive: true))
        }
        return .success((String(parts[2]), String(parts[3])))
    }
}

extension XDSAccess.Mode: ExpressibleByArgument {}
