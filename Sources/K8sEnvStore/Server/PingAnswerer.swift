import NIOCore

/// Answers a client's HTTP/2 PINGs on a store connection before SwiftNIO's HTTP/2 handler sees
/// them, and leaves every other byte to it.
///
/// kube-apiserver's etcd client (gRPC-go) measures the connection's bandwidth-delay product
/// with a PING each time data arrives and its last PING was answered, so under load it sends
/// PINGs as fast as they are answered. SwiftNIO counts PINGs among the control frames it
/// allows 200 of per 30 s on a connection, a defence against a ping flood from a stranger,
/// and closes the connection past that (GOAWAY with last stream 0, ENHANCE_YOUR_CALM). gRPC-go
/// then sends the calls that were in flight again on a new connection — a create the store
/// had already committed comes back as "already exists" (docs/explanation/storage.md). The
/// store's only client is the kube-apiserver k8senv started, so its PINGs are answered here,
/// one ACK each as RFC 9113 §6.7 asks, and the other limits stay SwiftNIO's.
///
/// The handler reads frame headers only (9 bytes each, after the 24-byte client preface) and
/// passes the bytes it receives on unchanged, in the same reads, except the 17 bytes of each
/// PING it answers. A frame header or a PING split across reads is held until it is whole.
final class PingAnswerer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let prefaceLength = 24
    static let headerLength = 9
    static let pingLength = headerLength + 8
    static let ping: UInt8 = 0x6
    static let ack: UInt8 = 0x1

    /// Bytes still to pass on before the next frame header: the preface, or a frame's payload.
    private var passing = PingAnswerer.prefaceLength
    /// The start of a frame header or PING that the last read ended inside of.
    private var held: ByteBuffer?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var start = held {
            held = nil
            start.writeBuffer(&input)
            input = start
        }
        // Bytes before `cursor` are looked at; those from the reader index on are still to pass.
        var cursor = input.readerIndex
        while cursor < input.writerIndex {
            let available = input.writerIndex - cursor
            if passing > 0 {
                let step = min(passing, available)
                cursor += step
                passing -= step
                continue
            }
            guard available >= Self.headerLength,
                let word = input.getInteger(at: cursor, as: UInt32.self),
                let flags = input.getInteger(at: cursor + 4, as: UInt8.self),
                let stream = input.getInteger(at: cursor + 5, as: UInt32.self)
            else {
                break
            }
            let length = Int(word >> 8)
            // Anything else, a malformed PING among it, is SwiftNIO's to judge.
            guard UInt8(word & 0xff) == Self.ping, flags & Self.ack == 0, length == 8, stream & 0x7fff_ffff == 0
            else {
                passing = Self.headerLength + length
                continue
            }
            guard available >= Self.pingLength else { break }
            pass(&input, upTo: cursor, context: context)
            var reply = context.channel.allocator.buffer(capacity: Self.pingLength)
            reply.writeInteger(UInt32(8) << 8 | UInt32(Self.ping))
            reply.writeInteger(Self.ack)
            reply.writeInteger(UInt32(0))
            reply.writeImmutableBuffer(input.getSlice(at: cursor + Self.headerLength, length: 8)!)
            input.moveReaderIndex(forwardBy: Self.pingLength)
            cursor += Self.pingLength
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        }
        pass(&input, upTo: cursor, context: context)
        if input.readableBytes > 0 {
            var rest = context.channel.allocator.buffer(capacity: input.readableBytes)
            rest.writeBuffer(&input)
            held = rest
        }
    }

    /// Passes on the bytes from the reader index to `end`, and moves the reader index there.
    private func pass(_ input: inout ByteBuffer, upTo end: Int, context: ChannelHandlerContext) {
        guard end > input.readerIndex, let run = input.readSlice(length: end - input.readerIndex) else { return }
        context.fireChannelRead(wrapInboundOut(run))
    }
}
