import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Supervisor events", .tags(.fast))
struct SupervisorEventTests {
    @Test("events written by the supervisor are read back whole, in order, once; a line still being written waits")
    func roundTrip() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/supervisor.events"
        let writer = try SupervisorEventWriter(path: path)
        let reader = SupervisorEventReader(path: path)
        #expect(reader.next().isEmpty)
        writer.send(SupervisorEvent(.progress, "base: embedded ready in 0.02s"))
        writer.send(SupervisorEvent(.error, "error: a line with \"quotes\",\nand a newline"))
        #expect(
            reader.next() == [
                SupervisorEvent(.progress, "base: embedded ready in 0.02s"),
                SupervisorEvent(.error, "error: a line with \"quotes\",\nand a newline"),
            ])
        #expect(reader.next().isEmpty)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"kind":"progress","te"#.utf8))
        #expect(reader.next().isEmpty)
        try handle.write(contentsOf: Data("xt\":\"later\"}\n".utf8))
        try handle.close()
        #expect(reader.next() == [SupervisorEvent(.progress, "later")])
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
