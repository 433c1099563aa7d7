import ArgumentParser
import Dispatch
import Foundation
import SealedDotenv
import Synchronization

extension TerminalProgress {
    /// Turns the progress display on for this process when standard error is a terminal and
    /// `--quiet` (``MessageOptions``) was not given.
    static func startIfWanted() {
        if !MessageOptions.isQuiet, isatty(STDERR_FILENO) != 0 { shared.enable() }
    }
}

/// One line on standard error saying how far a long sealing or opening has come, such as
/// `envseal: sealing 20,480 of 50,000 values`.
///
/// It appears only once an operation has run for a second, only when enabled (standard error is a
/// terminal and `--quiet` was not given), is redrawn in place every fifth of a second, and is
/// erased as soon as the operation reports ``SealingProgress/finished``, before anything else is
/// written to standard error. It shows counts, never names or values.
final class TerminalProgress: Sendable {
    /// The display of this process; ``KeyServiceConnection/sealer`` reports to it.
    static let shared = TerminalProgress()

    private struct State {
        var timer: (any DispatchSourceTimer)?
        var current: SealingProgress?
        var since: ContinuousClock.Instant?
        var shown = false
    }

    private let state = Mutex(State())
    private static let delay = Duration.seconds(1)

    /// The handler to give ``SealedFile``; it does nothing until ``enable()``.
    var handler: SealingProgress.Handler { { [self] in update($0) } }

    /// Starts drawing; called once standard error is known to be a terminal.
    func enable() {
        state.withLock { state in
            guard state.timer == nil else { return }
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "envseal.progress"))
            timer.schedule(deadline: .now() + .milliseconds(200), repeating: .milliseconds(200))
            timer.setEventHandler { [self] in draw() }
            timer.resume()
            state.timer = timer
        }
    }

    private func update(_ progress: SealingProgress) {
        state.withLock { state in
            guard state.timer != nil else { return }
            switch progress {
            case .working:
                if state.current == nil { state.since = .now }
                state.current = progress
            case .finished:
                state.current = nil
                if state.shown { Self.write("\r\u{1B}[K") }
                state.shown = false
            }
        }
    }

    private func draw() {
        state.withLock { state in
            guard case .working(let step, let done, let total)? = state.current, let since = state.since,
                  ContinuousClock.now - since >= Self.delay
            else { return }
            // A step that cannot count (opening is one batch) says how many values it works on.
            let amount = done == 0 ? Self.count(total) : "\(Self.count(done)) of \(Self.count(total))"
            Self.write("\renvseal: \(step.rawValue) \(amount) values\u{1B}[K")
            state.shown = true
        }
    }

    /// `50000` as `50,000`.
    static func count(_ number: Int) -> String {
        var digits = String(number)
        var index = digits.endIndex
        while digits.distance(from: digits.startIndex, to: index) > 3 {
            index = digits.index(index, offsetBy: -3)
            digits.insert(",", at: index)
        }
        return digits
    }

    private static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
