/// Turns sample columns into the wire's delta-encoded series. Arithmetic wraps at 64 bits on purpose: the decoder's
/// running sums wrap the same way, so even raws more than 2^63 apart come back exactly (docs/payload.md).
struct TimeQuantizer {
    /// A multiple of `unit`: the batch's time base.
    let base: Int64
    let unit: Int64

    /// A base at or below `earliest`, aligned to the unit so that a time rounds the same way in every batch.
    init(earliest: Int64, unit: Int64) {
        let remainder = earliest % unit
        self.base = earliest &- (remainder < 0 ? remainder &+ unit : remainder)
        self.unit = unit
    }

    /// The time as a whole number of units after the base, rounded to the nearest unit.
    @inline(__always)
    func offset(_ timeMicros: Int64) -> Int64 {
        let distance = UInt64(bitPattern: timeMicros &- base)
        let units = unit == 1 ? distance : (distance &+ UInt64(unit / 2)) / UInt64(unit)
        return Int64(bitPattern: units)
    }
}

enum SeriesEncoding {
    /// One series from parallel columns; exactly one of `raws` and `values` is non-nil, with as many entries as times.
    static func series(
        signal: SignalDescription, times: ArraySlice<Int64>, raws: ArraySlice<Int64>?, values: ArraySlice<Double>?,
        quantizer: TimeQuantizer
    ) -> Axle_Telemetry_V1_SignalSeries {
        var series = Axle_Telemetry_V1_SignalSeries()
        series.name = signal.name
        series.unit = signal.unit
        series.factor = signal.factor
        series.offset = signal.offset
        series.timeDeltas = deltas(of: times, transform: quantizer.offset)
        if let raws {
            series.rawDeltas = deltas(of: raws) { $0 }
        } else if let values {
            series.values = Array(values)
        }
        return series
    }

    /// The "not a reading" columns of a series: times delta-encoded like the samples' (a running sum of their own).
    static func addNotReadings(
        to series: inout Axle_Telemetry_V1_SignalSeries, times: ArraySlice<Int64>, kinds: ArraySlice<NotReadingKind>,
        quantizer: TimeQuantizer
    ) {
        series.notReadingTimeDeltas = deltas(of: times, transform: quantizer.offset)
        series.notReadings = kinds.map { kind in
            switch kind {
            case .notAvailable: .notAvailable
            case .error: .error
            }
        }
    }

    @inline(__always)
    private static func deltas(of column: ArraySlice<Int64>, transform: (Int64) -> Int64) -> [Int64] {
        [Int64](unsafeUninitializedCapacity: column.count) { buffer, count in
            var previous: Int64 = 0
            var index = 0
            for element in column {
                let current = transform(element)
                buffer[index] = current &- previous
                previous = current
                index += 1
            }
            count = index
        }
    }

    /// An event on the wire; window samples are grouped into one series per signal, in order of first appearance.
    static func event(_ event: TelemetryEvent, quantizer: TimeQuantizer) -> Axle_Telemetry_V1_Event {
        var message = Axle_Telemetry_V1_Event()
        message.name = event.name
        message.timeUnixMicros = event.timeMicros
        message.priority = event.priority
        message.attributes = event.attributes
        message.droppedRanges = event.droppedRanges.map { range in
            var message = Axle_Telemetry_V1_SequenceRange()
            message.recordClass = range.recordClass
            message.first = range.first
            message.last = range.last
            message.count = range.count
            message.reason = range.reason
            return message
        }
        if let window = event.window {
            var windowMessage = Axle_Telemetry_V1_EventWindow()
            windowMessage.preTriggerMicros = window.preTriggerMicros
            windowMessage.postTriggerMicros = window.postTriggerMicros
            var groups: [[WindowSample]] = []
            var groupOfSignal: [SignalDescription: Int] = [:]
            for sample in window.samples {
                if let index = groupOfSignal[sample.signal] {
                    groups[index].append(sample)
                } else {
                    groupOfSignal[sample.signal] = groups.count
                    groups.append([sample])
                }
            }
            windowMessage.series = groups.map { samples in
                let times = samples.map(\.timeMicros)[...]
                let isInteger = samples.allSatisfy { $0.raw != nil }
                return series(
                    signal: samples[0].signal, times: times,
                    raws: isInteger ? samples.map { $0.raw! }[...] : nil,
                    values: isInteger ? nil : samples.map(\.value)[...], quantizer: quantizer)
            }
            message.window = windowMessage
        }
        return message
    }
}
