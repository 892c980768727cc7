import NIOCore
import Synchronization

/// Limits on connections that a client cannot exceed by misbehaving: a connection that
/// sends nothing (or only part of a request's head) for `idleTimeout` is closed (Hummingbird's
/// connection state handler: the head counts only once it is whole, so a trickled header
/// does not keep it open), and one address may hold at most `perAddress` connections at once.
public struct ConnectionLimits: Sendable {
    public var idleTimeout: Duration = .seconds(30)
    public var perAddress = 64

    public init(idleTimeout: Duration = .seconds(30), perAddress: Int = 64) {
        self.idleTimeout = idleTimeout
        self.perAddress = perAddress
    }
}

/// Counts open connections per remote address; a connection over the limit is closed as
/// soon as its pipeline is set up, before any request of it is read.
final class ConnectionCounter: Sendable {
    let perAddress: Int
    private let open = Mutex<[String: Int]>([:])

    init(perAddress: Int) {
        self.perAddress = perAddress
    }

    /// Counts a connection from `address`; false when it would be over the limit (and is not counted).
    func admit(_ address: String) -> Bool {
        open.withLock { table in
            let n = table[address, default: 0]
            guard n < perAddress else { return false }
            table[address] = n + 1
            return true
        }
    }

    func release(_ address: String) {
        open.withLock { table in
            let n = table[address, default: 0] - 1
            table[address] = n > 0 ? n : nil
        }
    }

    func count(_ address: String) -> Int { open.withLock { $0[address, default: 0] } }

    func handler() -> Handler { Handler(counter: self) }

    /// One per connection, after the HTTP decoder.
    final class Handler: ChannelInboundHandler, RemovableChannelHandler {
        // The HTTP decoder's parts pass through untouched (the default `channelRead`
        // forwards them without unwrapping): this handler only watches the connection.
        typealias InboundIn = Any
        typealias InboundOut = Any
        let counter: ConnectionCounter

        init(counter: ConnectionCounter) {
            self.counter = counter
        }

        func handlerAdded(context: ChannelHandlerContext) {
            let address = context.channel.remoteAddress?.ipAddress ?? "unknown"
            if counter.admit(address) {
                // Released when the connection closes, whatever else is removed from it.
                let counter = self.counter
                context.channel.closeFuture.whenComplete { _ in counter.release(address) }
            } else {
                context.close(promise: nil)
            }
        }
    }
}
