import AgentCore
import AxleBase
import FirmwareProfile
import Synchronization
import Testing

/// gpsd's JSON lines → reports → readings, with lines as gpsd 3.22 writes them (the 3D one from its own regression
/// output for the CH-4711 receiver, dated 2029 by a week rollover).
@Suite struct GPSDReportTests {
    static let threeD = #"{"class":"TPV","device":"/dev/pts/3","mode":3,"time":"2029-07-21T13:56:51.997Z","ept":0.005,"lat":55.717213333,"lon":37.411996667,"altHAE":180.2000,"altMSL":165.6000,"alt":165.6000,"epv":20.700,"track":129.5000,"magtrack":140.8111,"magvar":11.3,"speed":2.5,"geoidSep":14.600,"eph":34.200,"sep":39.900}"#
    static let twoD = #"{"class":"TPV","device":"/dev/pts/3","mode":2,"time":"2029-07-21T13:56:52.997Z","lat":55.7173,"lon":37.4121,"altHAE":181.0,"track":130.0,"speed":3.0,"eph":40.0}"#
    static let noFix = #"{"class":"TPV","device":"/dev/pts/3","mode":1,"time":"2019-03-14T10:00:00.000Z"}"#

    @Test func aThreeDimensionalFixHasEveryField() throws {
        guard case .position(let tpv) = try #require(GPSDReport.parse(line: Self.threeD)) else {
            Issue.record("not a position")
            return
        }
        #expect(tpv.mode == 3)
        #expect(tpv.latitude == 55.717213333)
        #expect(tpv.longitude == 37.411996667)
        #expect(tpv.altitudeHAE == 180.2)
        #expect(tpv.track == 129.5)
        #expect(tpv.speedMetresPerSecond == 2.5)
        #expect(tpv.horizontalError == 34.2)
        #expect(tpv.verticalError == 20.7)
        #expect(tpv.time == "2029-07-21T13:56:51.997Z")
        #expect(tpv.hasPosition)
    }

    @Test func absentFieldsStayAbsentAndNoFixHasNoPosition() throws {
        guard case .position(let tpv) = try #require(GPSDReport.parse(line: Self.noFix)) else {
            Issue.record("not a position")
            return
        }
        #expect(tpv.mode == 1)
        #expect(tpv.latitude == nil && tpv.longitude == nil && tpv.track == nil && tpv.speedMetresPerSecond == nil)
        #expect(!tpv.hasPosition)
        // A mode that claims a fix without coordinates is no position either.
        guard case .position(let bare) = try #require(GPSDReport.parse(line: #"{"class":"TPV","mode":3,"lat":50.1}"#)) else {
            Issue.record("not a position")
            return
        }
        #expect(!bare.hasPosition)
    }

    @Test func devicesSkyAndOtherClasses() {
        #expect(GPSDReport.parse(line: #"{"class":"DEVICE","path":"/dev/ttyACM0","activated":0}"#)
            == .device(path: "/dev/ttyACM0", activated: false))
        #expect(GPSDReport.parse(line: #"{"class":"DEVICE","path":"/dev/ttyACM0","driver":"NMEA0183","activated":"2026-12-07T01:00:00.000Z"}"#)
            == .device(path: "/dev/ttyACM0", activated: true))
        #expect(GPSDReport.parse(line: #"{"class":"SKY","nSat":14,"uSat":2,"satellites":[]}"#) == .sky(used: 2, seen: 14))
        #expect(GPSDReport.parse(line: #"{"class":"SKY","satellites":[{"PRN":3,"used":true},{"PRN":6,"used":false}]}"#)
            == .sky(used: 1, seen: 2))
        #expect(GPSDReport.parse(line: #"{"class":"VERSION","release":"3.22","rev":"3.22"}"#) == .version(release: "3.22"))
        #expect(GPSDReport.parse(line: #"{"class":"WATCH","enable":true,"json":true}"#) == .other(className: "WATCH"))
    }

    @Test func cutDamagedAndOverlongLinesAreNoReports() {
        #expect(GPSDReport.parse(line: String(Self.threeD.prefix(80))) == nil)
        #expect(GPSDReport.parse(line: "not json") == nil)
        #expect(GPSDReport.parse(line: #"{"mode":3}"#) == nil)
        let padded = #"{"class":"TPV","mode":3,"lat":1,"lon":2,"x":""# + String(repeating: "a", count: 9000) + #""}"#
        #expect(GPSDReport.parse(line: padded) == nil)
    }

    /// gpsd 3.22's own output for the CH-4711 log (its regression file): every line is a report, including SKY lines
    /// of 1,576 and 1,623 bytes, longer than the 1,536 old clients assumed.
    @Test func everyLineGpsdWroteForARealLogIsRead() throws {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        let text = try FileInput.readAll(path: path + "/Tests/Resources/gnss/ch-4711.log.chk")
        var splitter = GPSDLineSplitter()
        var reports: [GPSDReport] = []
        var longest = 0
        splitter.append(text) { line in
            // The file interleaves the NMEA sentences gpsd read with the JSON it wrote.
            guard line.hasPrefix("{") else { return }
            longest = max(longest, line.utf8.count)
            if let report = GPSDReport.parse(line: line) { reports.append(report) } else { Issue.record("not read: \(line.prefix(80))") }
        }
        #expect(longest == 1623)
        #expect(splitter.overlongLines == 0)
        #expect(reports.contains(.sky(used: 0, seen: 20)), "the 1,576-byte SKY")
        let positions = reports.compactMap { if case .position(let tpv) = $0 { tpv } else { nil } }
        #expect(positions.filter(\.hasPosition).count == 10 && positions.filter { $0.mode == 1 }.count == 6)
    }

    @Test func theSplitterDropsOverlongLinesAndKeepsTheNext() {
        var splitter = GPSDLineSplitter()
        var lines: [String] = []
        let long = String(repeating: "x", count: 9000)
        splitter.append(Array("\(Self.noFix)\r\n\(long)\n\(Self.twoD)\n{\"class\"".utf8)) { lines.append($0) }
        #expect(lines == [Self.noFix, Self.twoD])
        #expect(splitter.overlongLines == 1)
        splitter.append(Array(":\"WATCH\"}\n".utf8)) { lines.append($0) }
        #expect(lines.last == #"{"class":"WATCH"}"#)
    }
}

@Suite struct LocationTrackerTests {
    private func values(_ readings: [LocationReading]) -> [LocationQuantity: Double?] {
        Dictionary(readings.map { ($0.quantity, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    private func report(_ line: String) -> GPSDReport { GPSDReport.parse(line: line)! }

    @Test func noPositionBeforeTheFirstFixAndNeverAMadeUpOne() {
        var tracker = LocationTracker(gpsd: "127.0.0.1:2947", clock: FakeClock())
        tracker.connected()
        let readings = values(tracker.receive(report(GPSDReportTests.noFix)))
        #expect(readings == [.fixMode: 1])
        #expect(tracker.status.lastFix == nil)
        #expect(tracker.fixAgeSeconds() == nil)
        #expect(!tracker.status.hasFix)
    }

    @Test func aFixGivesEveryQuantityInCatalogUnits() {
        var tracker = LocationTracker(gpsd: "127.0.0.1:2947", clock: FakeClock())
        tracker.connected()
        let readings = values(tracker.receive(report(GPSDReportTests.threeD)))
        #expect(readings[.latitude] == 55.717213333)
        #expect(readings[.longitude] == 37.411996667)
        #expect(readings[.altitude] == 180.2)
        #expect(readings[.heading] == 129.5)
        #expect(readings[.speed] == 9.0)  // 2.5 m/s
        #expect(readings[.horizontalAccuracy] == 34.2)
        #expect(readings[.verticalAccuracy] == 20.7)
        #expect(readings[.fixMode] == 3)
        #expect(tracker.status.hasFix)
        #expect(tracker.status.lastFix?.gpsTime == "2029-07-21T13:56:51.997Z")
    }

    @Test func twoDimensionalFixDropsTheAltitude() {
        var tracker = LocationTracker(gpsd: "127.0.0.1:2947", clock: FakeClock())
        tracker.connected()
        _ = tracker.receive(report(GPSDReportTests.threeD))
        let readings = values(tracker.receive(report(GPSDReportTests.twoD)))
        #expect(readings[.altitude] == .some(nil))
        #expect(readings[.verticalAccuracy] == .some(nil))
        #expect(readings[.latitude] == 55.7173)
        #expect(tracker.status.lastFix?.altitude == nil)
        // Once marked, a 2D fix does not mark it again.
        #expect(values(tracker.receive(report(GPSDReportTests.twoD)))[.altitude] == nil)
    }

    @Test func losingTheFixMarksEachQuantityOnceAndKeepsTheLastPositionWithItsAge() {
        let clock = FakeClock()
        var tracker = LocationTracker(gpsd: "127.0.0.1:2947", clock: clock)
        tracker.connected()
        _ = tracker.receive(report(GPSDReportTests.threeD))
        clock.advance(seconds: 12)
        let lost = values(tracker.receive(report(GPSDReportTests.noFix)))
        #expect(lost[.latitude] == .some(nil))
        #expect(lost[.longitude] == .some(nil))
        #expect(lost[.altitude] == .some(nil))
        #expect(lost[.speed] == .some(nil))
        #expect(lost[.fixMode] == 1)
        #expect(values(tracker.receive(report(GPSDReportTests.noFix))) == [.fixMode: 1])
        #expect(tracker.status.lastFix?.latitude == 55.717213333)
        #expect(tracker.fixAgeSeconds() == 12)
        #expect(!tracker.status.hasFix)
    }

    @Test func theReceiverUnpluggedOrGpsdGoneMakesEverythingUnknown() {
        var tracker = LocationTracker(gpsd: "127.0.0.1:2947", clock: FakeClock())
        tracker.connected()
        _ = tracker.receive(report(GPSDReportTests.threeD))
        #expect(tracker.status.receiver == "/dev/pts/3")
        // Another receiver closing changes nothing.
        #expect(tracker.receive(report(#"{"class":"DEVICE","path":"/dev/ttyUSB9","activated":0}"#)).isEmpty)
        let gone = values(tracker.receive(report(#"{"class":"DEVICE","path":"/dev/pts/3","activated":0}"#)))
        #expect(gone[.fixMode] == .some(nil))
        #expect(gone[.latitude] == .some(nil))
        #expect(tracker.status.receiver == nil && tracker.status.mode == 0)
        _ = tracker.receive(report(GPSDReportTests.twoD))
        let closed = values(tracker.connectionLost())
        #expect(closed[.fixMode] == .some(nil) && closed[.latitude] == .some(nil))
        #expect(!tracker.status.connected)
        #expect(tracker.status.lastFix?.latitude == 55.7173)
    }

    @Test func aJumpInGPSTimeIsKeptAsDataOnly() {
        let clock = FakeClock()
        var tracker = LocationTracker(gpsd: "127.0.0.1:2947", clock: clock)
        tracker.connected()
        _ = tracker.receive(report(GPSDReportTests.threeD))
        let receivedAt = tracker.status.lastFix?.receivedWallMillis
        #expect(receivedAt == clock.wallClockMillis())
        clock.advance(seconds: 1)
        _ = tracker.receive(report(#"{"class":"TPV","mode":2,"time":"2009-12-05T13:56:52.997Z","lat":55.7,"lon":37.4}"#))
        #expect(tracker.status.lastFix?.gpsTime == "2009-12-05T13:56:52.997Z")
        #expect(tracker.status.lastFix?.receivedWallMillis == receivedAt! + 1000)
    }
}

@Suite struct ExternalSampleTests {
    /// Latitude from the bus and the receiver, longitude from the receiver only.
    private func profile(prefer: LocationSource.Preference) -> FirmwareProfile {
        let catalog = [
            CatalogSignal(
                name: "Vehicle.CurrentLocation.Latitude", bus: "body", message: "Position", signal: "Latitude",
                unit: "degrees", staleAfterSeconds: 3, location: .latitude, line: 1),
            CatalogSignal(
                name: "Vehicle.CurrentLocation.Longitude", bus: "", message: "", signal: "", unit: "degrees",
                staleAfterSeconds: 3, location: .longitude, line: 2),
        ]
        return FirmwareProfile(
            name: "p", platform: "p", firmware: "1", directory: "/p", buses: [], catalog: catalog, rules: [], events: [],
            commands: [],
            location: LocationSource(
                host: "127.0.0.1", port: 2947,
                signals: [.init(name: catalog[0].name, quantity: .latitude, line: 1), .init(name: catalog[1].name, quantity: .longitude, line: 2)],
                prefer: prefer, line: 1))
    }

    @Test func readingsBecomeSamplesOfEveryNameTheyFeed() {
        let catalog = LocationCatalog(profile: profile(prefer: .gpsd))
        let samples = catalog.samples(
            [LocationReading(.latitude, 48.1), LocationReading(.longitude, nil), LocationReading(.speed, 5)], timeMicros: 7)
        #expect(samples == [
            ExternalSample(catalogIndex: 0, timeMicros: 7, value: 48.1, origin: .location),
            ExternalSample(catalogIndex: 1, timeMicros: 7, value: nil, origin: .location),
        ])
    }

    @Test func preferGpsdTakesTheSharedSignalWhileThereIsAFixAndGivesItBack() {
        var arbiter = LocationArbiter(profile: profile(prefer: .gpsd))
        let fix = ExternalSample(catalogIndex: 0, timeMicros: 1, value: 48.1, origin: .location)
        let lost = ExternalSample(catalogIndex: 0, timeMicros: 2, value: nil, origin: .location)
        #expect(arbiter.decide(fix) == .init(ingest: true, silenceBus: true))
        #expect(arbiter.decide(fix) == .init(ingest: true, silenceBus: nil))
        #expect(arbiter.decide(lost) == .init(ingest: false, silenceBus: false))
        #expect(arbiter.decide(lost) == .init(ingest: false, silenceBus: nil))
        // A name only the receiver gives: always its, a loss included.
        #expect(arbiter.decide(ExternalSample(catalogIndex: 1, timeMicros: 2, value: nil, origin: .location)) == .init(ingest: true))
    }

    @Test func preferCanLeavesTheSharedSignalToTheBus() {
        var arbiter = LocationArbiter(profile: profile(prefer: .can))
        #expect(arbiter.decide(ExternalSample(catalogIndex: 0, timeMicros: 1, value: 48.1, origin: .location)) == .init(ingest: false))
        #expect(arbiter.decide(ExternalSample(catalogIndex: 1, timeMicros: 1, value: 11.5, origin: .location)) == .init(ingest: true))
    }

    @Test func theInboxWakesTheConsumerAndCountsWhatDoesNotFit() {
        let wakes = Counter()
        let inbox = ExternalSampleInbox(capacity: 2) { wakes.add() }
        let sample = ExternalSample(catalogIndex: 0, timeMicros: 1, value: 1, origin: .location)
        #expect(inbox.offer([sample, sample, sample]) == 1)
        #expect(inbox.dropped == 1)
        #expect(wakes.value == 1)
        #expect(inbox.takeAll().count == 2)
        #expect(inbox.takeAll().isEmpty)
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
