// The token webhook's answer (TokenWebhook.answer), on every kube-apiserver request made with a
// lease's token: its Codable types against the JSONSerialization code it replaced (kept here,
// as it was, as the baseline), on the bodies kube-apiserver v1.20 sends. Run it with
// scripts/bench/bench-token-review.sh.
//
//   k8senv-pool-benchmark --token-review [REVIEWS] [ROUNDS]
import Foundation
import K8sEnvRunner

enum TokenReviewBenchmark {
    static func run(reviews: Int, rounds: Int) {
        let reviewer = "bench-reviewer"
        let token = LeaseTokens.shared.issue(
            UserIdentity(name: "k8senv-admin", groups: [TokenWebhook.leaseAdminGroup]), reviewer: reviewer)
        let fingerprint = LeaseTokens.fingerprint(token)
        let tokenReview = Array(
            #"{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"token":"\#(token)","audiences":["https://kubernetes.default.svc.cluster.local"]},"status":{"user":{}}}"#
                .utf8)
        let accessReview = Array(
            #"{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"resourceAttributes":{"namespace":"default","verb":"list","version":"v1","resource":"configmaps"},"user":"k8senv-admin","groups":["k8senv:lease-admins","system:authenticated"],"extra":{"k8senv.dev/lease-token":["\#(fingerprint)"]},"uid":"k8senv-admin"},"status":{"allowed":false}}"#
                .utf8)
        // Both answer the same.
        for body in [tokenReview, accessReview] {
            let new = TokenWebhook.answer(body, reviewer: reviewer).flatMap {
                try? JSONSerialization.jsonObject(with: Data($0)) as? NSDictionary
            }
            let old = serializationAnswer(body, reviewer: reviewer).flatMap {
                try? JSONSerialization.jsonObject(with: Data($0)) as? NSDictionary
            }
            guard let new, new == old else {
                FileHandle.standardError.write(
                    Data(
                        "bench-token-review: the two answers differ: \(String(describing: new)) vs \(String(describing: old))\n"
                            .utf8))
                exit(1)
            }
        }
        var codable: [Double] = []
        var serialization: [Double] = []
        let clock = ContinuousClock()
        func time(_ answer: ([UInt8], String) -> [UInt8]?) -> Double {
            let started = clock.now
            for i in 0..<reviews { _ = answer(i % 2 == 0 ? tokenReview : accessReview, reviewer) }
            let d = clock.now - started
            return (Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(reviews)
        }
        // Alternating, so both sides see the same machine.
        for _ in 0..<rounds {
            codable.append(time(TokenWebhook.answer))
            serialization.append(time(serializationAnswer))
        }
        let c = codable.sorted()[rounds / 2]
        let s = serialization.sorted()[rounds / 2]
        print(
            String(
                format: "token-review codable_ns=%.0f jsonserialization_ns=%.0f reviews=%d rounds=%d", c, s, reviews,
                rounds))
        print(String(format: "token-review-ratio jsonserialization_over_codable=%.2fx", s / c))
    }

    /// TokenWebhook.answer as it was, with JSONSerialization.
    static func serializationAnswer(_ body: [UInt8], reviewer: String) -> [UInt8]? {
        let fingerprintKey = TokenWebhook.fingerprintKey
        guard let review = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let spec = review["spec"] as? [String: Any]
        else { return nil }
        let answer: [String: Any]
        switch review["kind"] as? String {
        case "TokenReview":
            guard let token = spec["token"] as? String else { return nil }
            var status: [String: Any] = ["authenticated": false]
            if let identity = LeaseTokens.shared.review(token, reviewer: reviewer) {
                status = [
                    "authenticated": true,
                    "user": [
                        "username": identity.name, "uid": identity.name, "groups": identity.groups,
                        "extra": [fingerprintKey: [LeaseTokens.fingerprint(token)]],
                    ],
                ]
            }
            answer = [
                "apiVersion": review["apiVersion"] as? String ?? "authentication.k8s.io/v1", "kind": "TokenReview",
                "status": status,
            ]
        case "SubjectAccessReview":
            var status: [String: Any] = ["allowed": false]
            let fingerprints = ((spec["extra"] as? [String: Any])?[fingerprintKey] as? [String]) ?? []
            if fingerprints.contains(where: { !LeaseTokens.shared.isLive(fingerprint: $0, reviewer: reviewer) }) {
                status = ["allowed": false, "denied": true, "reason": TokenWebhook.endedReason]
            } else if !fingerprints.isEmpty, (spec["groups"] as? [String] ?? []).contains(TokenWebhook.leaseAdminGroup)
            {
                status = ["allowed": true, "reason": "k8senv: a live lease's admin token"]
            }
            answer = [
                "apiVersion": review["apiVersion"] as? String ?? "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview", "status": status,
            ]
        default:
            return nil
        }
        return (try? JSONSerialization.data(withJSONObject: answer)).map { [UInt8]($0) }
    }
}
