// Pool benchmark (not a test): acquire + create 20 objects + release cycles on a warm pool,
// reporting median and p95 per cycle and per phase. Run it with scripts/bench/bench-pool.sh.
//
//   k8senv-pool-benchmark CONFIG ENVIRONMENT [CYCLES]
//   k8senv-pool-benchmark --token-review [REVIEWS] [ROUNDS]   (TokenReviewBenchmark.swift)
import Foundation
import K8sEnvRunner

@main
struct PoolBenchmark {
    static func main() async {
        let arguments = CommandLine.arguments
        if arguments.count >= 2, arguments[1] == "--token-review" {
            TokenReviewBenchmark.run(
                reviews: arguments.count > 2 ? Int(arguments[2]) ?? 20_000 : 20_000,
                rounds: arguments.count > 3 ? Int(arguments[3]) ?? 9 : 9)
            return
        }
        guard arguments.count >= 3 else {
            FileHandle.standardError.write(Data("usage: k8senv-pool-benchmark CONFIG ENVIRONMENT [CYCLES]\n".utf8))
            exit(2)
        }
        let cycles = arguments.count > 3 ? Int(arguments[3]) ?? 50 : 50
        do {
            let configuration = try K8sEnvConfiguration.load(arguments[1])
            let pool = try configuration.pool(for: arguments[2], options: PoolOptions(size: 1))
            try await pool.initialize()
            // Warm: the instance is started once, outside the measurement.
            try await pool.acquire().release()
            var acquire: [Double] = []
            var work: [Double] = []
            var release: [Double] = []
            var total: [Double] = []
            let clock = ContinuousClock()
            for cycle in 0..<cycles {
                let t0 = clock.now
                let instance = try await pool.acquire()
                let t1 = clock.now
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<20 {
                        group.addTask {
                            let body =
                                #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bench-\#(cycle)-\#(i)"},"data":{"k":"v"}}"#
                            _ = try await instance.client.create(
                                "/api/v1/namespaces/default/configmaps", object: Array(body.utf8))
                        }
                    }
                    for try await _ in group {}
                }
                let t2 = clock.now
                try await instance.release()
                let t3 = clock.now
                acquire.append(ms(t1 - t0))
                work.append(ms(t2 - t1))
                release.append(ms(t3 - t2))
                total.append(ms(t3 - t0))
            }
            await pool.shutdown()
            for (name, values) in [("acquire", acquire), ("create20", work), ("release", release), ("cycle", total)] {
                let sorted = values.sorted()
                let median = sorted[sorted.count / 2]
                let p95 = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.95))]
                print(String(format: "pool phase=%@ cycles=%d median_ms=%.2f p95_ms=%.2f", name, cycles, median, p95))
            }
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            exit(1)
        }
    }

    static func ms(_ d: Duration) -> Double {
        Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    }
}
