/// The recent values of one captured signal, kept so that an event can include what happened before its trigger.
///
/// Bounded two ways: values older than `spanMicros` (the longest pre-trigger window that captures the signal) are
/// dropped, and so is the oldest value once `limit` are held, so a fast signal cannot grow it without bound. Storage
/// starts small and doubles up to the limit, so a slow signal costs little.
struct SampleRing: Sendable {
    private var times: [Int64]
    private var values: [Double]
    private var head = 0
    private(set) var count = 0
    let limit: Int
    let spanMicros: Int64

    init(spanMicros: Int64, limit: Int) {
        self.spanMicros = spanMicros
        self.limit = limit
        let capacity = Self.capacity(forAtMost: min(limit, 64))
        times = [Int64](repeating: 0, count: capacity)
        values = [Double](repeating: 0, count: capacity)
    }

    private static func capacity(forAtMost count: Int) -> Int {
        var capacity = 1
        while capacity < count { capacity <<= 1 }
        return capacity
    }

    /// Adds a value, first dropping those that have left the span as of `now`.
    @inline(__always)
    mutating func push(time: Int64, value: Double, now: Int64) {
        let mask = times.count - 1
        let oldest = now &- spanMicros
        while count > 0 && times[head] < oldest {
            head = (head + 1) & mask
            count -= 1
        }
        if count == limit {
            head = (head + 1) & mask
            count -= 1
        } else if count == times.count {
            grow()
        }
        let slot = (head + count) & (times.count - 1)
        times[slot] = time
        values[slot] = value
        count += 1
    }

    private mutating func grow() {
        let capacity = times.count * 2
        var newTimes = [Int64](repeating: 0, count: capacity)
        var newValues = [Double](repeating: 0, count: capacity)
        let mask = times.count - 1
        for offset in 0..<count {
            newTimes[offset] = times[(head + offset) & mask]
            newValues[offset] = values[(head + offset) & mask]
        }
        times = newTimes
        values = newValues
        head = 0
    }

    /// Calls `body` with every value held whose time lies in `window`, oldest first.
    func forEach(in window: ClosedRange<Int64>, _ body: (Int64, Double) -> Void) {
        let mask = times.count - 1
        for offset in 0..<count {
            let slot = (head + offset) & mask
            if window.contains(times[slot]) { body(times[slot], values[slot]) }
        }
    }
}
