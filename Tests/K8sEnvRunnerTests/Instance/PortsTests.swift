import Foundation
import K8sEnvRunner
import K8sEnvTestSupport
import Testing

@Suite("Ports on 127.0.0.1", .tags(.fast))
struct PortsTests {
    @Test("a port is taken while another process's listener holds it, and free once it is closed")
    func taken() throws {
        var holder: ListeningSocket? = try ListeningSocket()
        let port = holder!.port
        #expect(Ports.isTaken(port))
        holder = nil
        #expect(!Ports.isTaken(port))
    }

    @Test("a port the kernel just handed out is not taken")
    func free() throws {
        #expect(!Ports.isTaken(try Ports.free()))
    }
}
