import Foundation
import K8sEnvStore
import K8sEnvTestSupport
import Testing

@Suite("Store connections: a client's HTTP/2 PINGs", .tags(.integration))
struct StorePingTests {
    @Test(
        "a client that pings as fast as it is answered (gRPC-go's bandwidth probe) gets an ACK with its payload for each of 1,000 PINGs, whole or cut across reads, keeps its connection, and every other frame still reaches the HTTP/2 server in order (its SETTINGS acknowledged)"
    )
    func pingsAnswered() async throws {
        let t = try TemporaryStore()
        let server = try await StoreServer.start(store: t.store)
        var outcome: Result<Void, any Error> = .success(())
        do {
            let connection = try HTTP2Connection(port: server.port)
            defer { connection.disconnect() }
            let settings = HTTP2Connection.frame(type: 0x4, flags: 0, payload: [])
            try connection.transmit(HTTP2Connection.preface + settings)
            _ = try connection.next(type: 0x4, ack: true)
            for index in 0..<1_000 {
                let payload = (0..<8).map { UInt8(truncatingIfNeeded: (index * 31) >> $0) ^ UInt8($0) }
                let ping = HTTP2Connection.frame(type: 0x6, flags: 0, payload: payload)
                // Every tenth PING in pieces (a header cut short, a payload cut short), the
                // rest whole: the server sees both.
                if index % 10 == 3 {
                    try connection.transmit(pieces: [ping[0..<4], ping[4..<11], ping[11...]])
                } else {
                    try connection.transmit(ping)
                }
                // Now and then a SETTINGS right behind it, cut in two: the HTTP/2 server gets
                // it whole and answers after the PING's ACK.
                if index % 100 == 50 { try connection.transmit(pieces: [settings[0..<5], settings[5...]]) }
                let answer = try connection.next(type: 0x6, ack: true)
                #expect(answer == payload, "PING \(index)")
                if answer != payload { break }
                if index % 100 == 50 { _ = try connection.next(type: 0x4, ack: true) }
            }
        } catch {
            outcome = .failure(error)
        }
        await server.stop()
        try outcome.get()
    }
}

/// A client's end of a plaintext HTTP/2 connection, frame by frame, on a blocking socket.
final class HTTP2Connection {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    let fd: Int32
    private var received: [UInt8] = []

    struct Closed: Error, CustomStringConvertible {
        let description: String
    }

    init(port: Int) throws {
        guard let fd = ConnectionHammer.dial(.port(port)) else {
            throw Closed(description: "cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
        self.fd = fd
        var limit = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
    }

    func disconnect() { _ = close(fd) }

    static func frame(type: UInt8, flags: UInt8, payload: [UInt8], stream: UInt32 = 0) -> [UInt8] {
        let length = UInt32(payload.count)
        return [UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff), type, flags]
            + [24, 16, 8, 0].map { UInt8(stream >> $0 & 0xff) } + payload
    }

    func transmit(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw Closed(description: "send failed: errno \(errno)") }
    }

    /// `bytes` in pieces, each sent on its own a moment apart, so that they are likely to
    /// arrive in reads of their own.
    func transmit(pieces: [ArraySlice<UInt8>]) throws {
        for piece in pieces {
            try transmit(Array(piece))
            usleep(2_000)
        }
    }

    /// The next frame from the server: type, flags, payload.
    func nextFrame() throws -> (type: UInt8, flags: UInt8, payload: [UInt8]) {
        while true {
            if received.count >= 9 {
                let length = Int(received[0]) << 16 | Int(received[1]) << 8 | Int(received[2])
                if received.count >= 9 + length {
                    let frame = (received[3], received[4], Array(received[9..<9 + length]))
                    received.removeFirst(9 + length)
                    return frame
                }
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                throw Closed(description: count == 0 ? "the server closed the connection" : "recv: errno \(errno)")
            }
            received += chunk[0..<count]
        }
    }

    /// The payload of the server's next frame of `type` (an ACK or not); its SETTINGS are
    /// acknowledged on the way, other frames skipped, a GOAWAY is an error that quotes its code
    /// and message.
    func next(type: UInt8, ack: Bool) throws -> [UInt8] {
        while true {
            let frame = try nextFrame()
            if frame.type == type && (frame.flags & 0x1 == 1) == ack { return frame.payload }
            switch (frame.type, frame.flags & 0x1) {
            case (0x4, 0x0):
                try transmit(Self.frame(type: 0x4, flags: 0x1, payload: []))
            case (0x7, _):
                let code = frame.payload.count >= 8 ? frame.payload[4..<8].reduce(0) { $0 << 8 | Int($1) } : -1
                let message = String(decoding: frame.payload.dropFirst(8), as: UTF8.self)
                throw Closed(description: "GOAWAY, error code \(code): \(message)")
            default:
                continue
            }
        }
    }
}
