import K8sEnvRunner
import Testing

@Suite("Poll: the one wait", .tags(.fast))
struct PollTests {
    struct Exited: Error, Equatable {}

    @Test("a condition that holds on its third ask gives its value after three asks")
    func value() async {
        var asks = 0
        let outcome = await Poll(every: .milliseconds(1), for: .seconds(60)).value { () -> String? in
            asks += 1
            return asks == 3 ? "ready" : nil
        }
        #expect((try? outcome.get()) == "ready" && asks == 3)
    }

    @Test("a condition that never holds gives up at the deadline, saying so and how often it asked")
    func deadline() async {
        var asks = 0
        let outcome = await Poll(every: .milliseconds(1), for: .milliseconds(30)).until { () -> Bool in
            asks += 1
            return false
        }
        guard case .failure(let gaveUp) = outcome else {
            Issue.record("it did not give up")
            return
        }
        #expect(gaveUp.reason == .deadline && gaveUp.attempts == asks && asks >= 2)
        #expect(gaveUp.description.hasSuffix("the deadline passed") && gaveUp.description.contains("\(asks) attempts"))
    }

    @Test("a cancelled poll gives up without waiting for its deadline, saying it was cancelled")
    func cancelled() async {
        let task = Task { await Poll(every: .milliseconds(5), for: .seconds(600)).until { false } }
        task.cancel()
        guard case .failure(let gaveUp) = await task.value else {
            Issue.record("it did not give up")
            return
        }
        #expect(gaveUp.reason == .cancelled && gaveUp.description.hasPrefix("cancelled after"))
    }

    @Test("a condition's error comes out at once, as it is")
    func conditionThrows() async {
        var asks = 0
        await #expect(throws: Exited()) {
            _ = try await Poll(every: .milliseconds(1), for: .seconds(60)).until { () throws(Exited) -> Bool in
                asks += 1
                if asks == 2 { throw Exited() }
                return false
            }
        }
        #expect(asks == 2)
    }

    @Test("the blocking form asks on its thread until the condition holds or the deadline passes")
    func blocking() {
        var asks = 0
        #expect(
            (try? Poll(every: .milliseconds(1), for: .seconds(60)).blockingUntil {
                asks += 1
                return asks == 4
            }.get()) != nil)
        #expect(asks == 4)
        let never = Poll(every: .milliseconds(1), for: .milliseconds(20)).blockingUntil { false }
        guard case .failure(let gaveUp) = never else {
            Issue.record("it did not give up")
            return
        }
        #expect(gaveUp.reason == .deadline)
    }
}
