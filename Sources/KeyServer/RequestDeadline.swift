import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Gives each request a total deadline, from its first byte to the end of its body, and closes
/// connections whose response says `Connection: close`.
///
/// An idle timeout alone lets a sender that trickles one byte every few seconds hold a connection
/// (and its buffers) for as long as it likes. Two handlers share the work: ``RequestArrivalHandler``
/// sits before the HTTP decoder and sees every byte, so it notices a request beginning while its
/// headers are still arriving; this one sits after the decoder, sees where each request ends and
/// what is written back, and owns the timer. When the deadline passes before the request's end
/// has arrived, the client gets `408 Request Timeout` (when no response is under way) and the
/// connection is closed.
///
/// A response with `Connection: close` (the 413 for an oversized body, answered before the body
/// is read) is followed by a lingering close: the output is shut once the response is flushed,
/// what the client still sends is read and dropped for ``lingerTime`` at most, then the
/// connection is closed. Closing at once with unread data would make the kernel send a reset,
/// which can destroy the response before the client reads it.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// How long after a `Connection: close` response's output is shut the connection stays open
    /// to drain what the client is still sending.
    static let lingerTime: TimeAmount = .seconds(2)

    let deadline: TimeAmount
    let logger: Logger
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    /// A request's head has arrived and its end has not.
    private var reading = false
    /// Requests whose head has arrived and whose response has not ended.
    private var unanswered = 0
    /// A response's head is written and its end is not.
    private var responding = false
    /// The response being written says `Connection: close`.
    private var closeAfterResponse = false
    /// The connection is being closed; nothing more is started.
    private var closing = false

    init(deadline: TimeAmount, logger: Logger) {
        self.deadline = deadline
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        closing = true
        context.fireChannelInactive()
    }

    /// Bytes arrived before the HTTP decoder: a request is under way, if none was.
    func bytesArrived() {
        startTimer()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            reading = true
            unanswered += 1
            // A pipelined request whose bytes came with the previous one's end.
            startTimer()
        case .body:
            break
        case .end:
            reading = false
            cancelTimer()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let response):
            responding = true
            if response.headerFields[.connection]?.lowercased() == "close" { closeAfterResponse = true }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            responding = false
            unanswered = max(0, unanswered - 1)
            guard closeAfterResponse else {
                context.write(data, promise: promise)
                return
            }
            closing = true
            context.writeAndFlush(data, promise: promise)
            lingeringClose(context)
        }
    }

    private func startTimer() {
        guard timer == nil, !closing, let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: deadline) { [self] in
            timer = nil
            deadlinePassed()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func deadlinePassed() {
        guard let context, !closing else {
            self.context?.close(promise: nil)
            return
        }
        closing = true
        logger.info("request deadline passed; closing the connection", metadata: [
            "deadline_ms": "\(deadline.nanoseconds / 1_000_000)",
        ])
        // A 408 only when nothing else is being written and no earlier request awaits its
        // answer: otherwise it would land inside or before another response.
        guard !responding, unanswered == (reading ? 1 : 0) else {
            context.close(promise: nil)
            return
        }
        let head = HTTPResponse(status: .requestTimeout, headerFields: [.connection: "close", .contentLength: "0"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        lingeringClose(context)
    }

    /// Shuts the output (the client sees the response, then end of file), drains for a moment,
    /// then closes.
    private func lingeringClose(_ context: ChannelHandlerContext) {
        cancelTimer()
        let loop = context.eventLoop.assumeIsolated()
        context.close(mode: .output).assumeIsolated().whenComplete { result in
            if case .failure = result {
                context.close(promise: nil)
                return
            }
            loop.scheduleTask(in: Self.lingerTime) { context.close(promise: nil) }
        }
    }
}

@available(*, unavailable)
extension RequestDeadlineHandler: Sendable {}

/// Before the HTTP decoder: tells the ``RequestDeadlineHandler`` of the same connection that bytes
/// arrived, so that a request's deadline runs from its first byte, not from its complete headers.
final class RequestArrivalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var deadline: RequestDeadlineHandler?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if deadline == nil {
            deadline = try? context.pipeline.syncOperations.handler(type: RequestDeadlineHandler.self)
        }
        deadline?.bytesArrived()
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension RequestArrivalHandler: Sendable {}

/// An HTTP/1.1 child channel with request deadlines: ``RequestArrivalHandler`` goes in before the
/// base channel's handlers (after TLS, when the base is wrapped in it), and the base is given a
/// ``RequestDeadlineHandler`` among its additional handlers.
struct DeadlineHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel

    init(responder: @escaping HTTPChannelHandler.Responder, idleTimeout: TimeAmount, requestTimeout: TimeAmount, logger: Logger) {
        base = HTTP1Channel(responder: responder, configuration: .init(
            additionalChannelHandlers: [RequestDeadlineHandler(deadline: requestTimeout, logger: logger)],
            idleTimeout: idleTimeout))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestArrivalHandler())
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    /// Serves the connection's requests with its event loop as their task executor: the handler
    /// then runs on the thread that reads and writes the socket, so a request's bytes, its
    /// handler and its answer do not hop between the event loop and the global executor's
    /// threads (a wake-up and a context switch each way).
    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopTaskExecutor(value.channel.eventLoop)) {
            await base.handle(value: value, logger: logger)
        }
    }
}

/// An event loop as a task executor: jobs run on the loop's thread, in the order enqueued.
final class EventLoopTaskExecutor: TaskExecutor {
    let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with an idle timeout and a total deadline per request.
    static func http1(idleTimeout: Duration, requestTimeout: Duration, logger: Logger) -> HTTPServerBuilder {
        .init { responder in
            DeadlineHTTP1Channel(
                responder: responder, idleTimeout: .nanoseconds(idleTimeout.nanoseconds),
                requestTimeout: .nanoseconds(requestTimeout.nanoseconds), logger: logger)
        }
    }
}

extension Duration {
    /// Whole nanoseconds, as NIO's `TimeAmount` takes them.
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
