/// A driving situation the simulated vehicle goes through: what it does, and what goes wrong.
///
/// Every scenario is a pure function of simulated time (plus the commands received), so a run is reproducible.
public enum Scenario: String, Sendable, CaseIterable, Codable {
    /// Stationary, gear P, ignition off, doors locked, engine cold.
    case parked
    /// Stop-and-go in a city (loops every 180 s): cold start, coolant warms up, the position follows a route.
    case cityDrive = "city-drive"
    /// On-ramp, then cruising at about 120 km/h (the vehicle's top speed permitting) along a motorway.
    case highway
    /// A warm engine in city traffic loses coolant from 30 s on: the level falls and the temperature climbs past
    /// 110 °C.
    case coolantLeak = "coolant-leak"
    /// On the motorway, the refrigeration unit fails at 30 s: the cargo warms from 4 °C towards the ambient 28 °C.
    case cargoWarming = "cargo-warming"
    /// City driving until a collision at 40 s (at 50 km/h): crash signal set, the vehicle stops, the engine stalls,
    /// the doors unlock.
    case crash

    /// One line for help texts.
    public var summary: String {
        switch self {
        case .parked: "stationary, gear P, ignition off"
        case .cityDrive: "stop-and-go city driving; coolant warms up, GPS follows a route"
        case .highway: "motorway cruise around 120 km/h"
        case .coolantLeak: "city driving; coolant leaks from 30 s, temperature climbs past 110 °C"
        case .cargoWarming: "motorway; refrigeration fails at 30 s, cargo warms from 4 °C past 8 °C"
        case .crash: "city driving; collision at 40 s, vehicle stops"
        }
    }

    /// The quantities that show what the scenario is about: a profile that maps none of them cannot show it.
    public var keyQuantities: [VehicleQuantity] {
        switch self {
        case .parked: [.vehicleSpeed, .gear, .ignition]
        case .cityDrive, .highway: [.vehicleSpeed, .engineSpeed]
        case .coolantLeak: [.coolantTemp]
        case .cargoWarming: [.cargoTemp]
        case .crash: [.crash]
        }
    }

    /// Everything time-dependent about the scenario, as data.
    var script: ScenarioScript {
        switch self {
        case .parked:
            ScenarioScript(cycle: .standstill, route: .munichCity, drives: false)
        case .cityDrive:
            ScenarioScript(cycle: .city, route: .munichCity, drives: true)
        case .highway:
            ScenarioScript(cycle: .motorway, route: .a9MunichNuremberg, drives: true, warmStart: true)
        case .coolantLeak:
            ScenarioScript(cycle: .city, route: .munichCity, drives: true, warmStart: true, coolantLeakStart: 30)
        case .cargoWarming:
            ScenarioScript(
                cycle: .motorway, route: .a9MunichNuremberg, drives: true, warmStart: true, ambient: 28,
                reeferFailure: 30)
        case .crash:
            ScenarioScript(cycle: .city, route: .munichCity, drives: true, crashTime: 40)
        }
    }
}

/// The data behind a scenario: drive cycle, route, and the times at which things happen.
struct ScenarioScript: Sendable {
    var cycle: DriveCycle
    var route: GeoRoute
    /// The engine runs and the driver selects D after `driveAway` seconds.
    var drives: Bool
    var driveAway = 3.0
    /// The engine is at operating temperature from the start.
    var warmStart = false
    /// Ambient air temperature, °C.
    var ambient = 15.0
    var coolantLeakStart: Double?
    var reeferFailure: Double?
    var crashTime: Double?
}

/// A speed profile: points (seconds, km/h) joined by straight lines; after the last point, time wraps to
/// `loopFrom`, so a cycle can have a lead-in (such as an on-ramp) and then repeat.
struct DriveCycle: Sendable {
    var points: [(time: Double, speed: Double)]
    var loopFrom: Double

    /// Target speed in km/h at `time` seconds.
    func speed(at time: Double) -> Double {
        guard let last = points.last, last.time > 0 else { return points.first?.speed ?? 0 }
        var t = time
        if t > last.time {
            let period = last.time - loopFrom
            t = period > 0 ? loopFrom + (t - last.time).truncatingRemainder(dividingBy: period) : last.time
        }
        var previous = points[0]
        for point in points.dropFirst() {
            if t <= point.time {
                let span = point.time - previous.time
                guard span > 0 else { return point.speed }
                return previous.speed + (point.speed - previous.speed) * (t - previous.time) / span
            }
            previous = point
        }
        return last.speed
    }

    static let standstill = DriveCycle(points: [(0, 0)], loopFrom: 0)

    /// Pull away, 50 km/h, stop at a light, 30 km/h, 50 km/h, slow zone, stop; accelerations about 1.2 m/s².
    static let city = DriveCycle(
        points: [
            (0, 0), (5, 0), (17, 50), (45, 50), (55, 0), (70, 0), (80, 30), (100, 30), (108, 50), (135, 50),
            (145, 20), (160, 20), (170, 0), (180, 0),
        ],
        loopFrom: 0)

    /// On-ramp to 120 km/h in 30 s, then gentle variations around it every couple of minutes.
    static let motorway = DriveCycle(
        points: [
            (0, 0), (5, 0), (35, 120), (120, 126), (200, 114), (300, 128), (400, 117), (500, 123), (635, 120),
        ],
        loopFrom: 35)
}

/// A polyline of (latitude, longitude) points that the vehicle follows at its current speed.
struct GeoRoute: Sendable {
    var points: [(latitude: Double, longitude: Double)]
    /// A closed route starts over at its first point; an open one is driven back and forth.
    var isClosed: Bool
    /// Cumulative distance in metres at each point (and, for a closed route, back at the first).
    let distances: [Double]

    init(points: [(latitude: Double, longitude: Double)], isClosed: Bool) {
        self.points = points
        self.isClosed = isClosed
        var distances = [0.0]
        let legs = isClosed ? points + [points[0]] : points
        for index in legs.indices.dropFirst() {
            distances.append(distances[index - 1] + Self.metres(from: legs[index - 1], to: legs[index]))
        }
        self.distances = distances
    }

    var length: Double { distances.last ?? 0 }

    /// The position after travelling `distance` metres from the first point.
    func position(atDistance distance: Double) -> (latitude: Double, longitude: Double) {
        guard length > 0 else { return points[0] }
        var d = distance.truncatingRemainder(dividingBy: isClosed ? length : 2 * length)
        if d < 0 { d += isClosed ? length : 2 * length }
        if !isClosed, d > length { d = 2 * length - d }
        let legs = isClosed ? points + [points[0]] : points
        for index in distances.indices.dropFirst() where d <= distances[index] {
            let span = distances[index] - distances[index - 1]
            let fraction = span > 0 ? (d - distances[index - 1]) / span : 0
            let from = legs[index - 1]
            let to = legs[index]
            return (
                from.latitude + (to.latitude - from.latitude) * fraction,
                from.longitude + (to.longitude - from.longitude) * fraction
            )
        }
        return legs[legs.count - 1]
    }

    /// Equirectangular distance: metres-accurate over the few kilometres of one leg.
    static func metres(from a: (latitude: Double, longitude: Double), to b: (latitude: Double, longitude: Double)) -> Double {
        let radians = Double.pi / 180
        let x = (b.longitude - a.longitude) * radians * cosine((a.latitude + b.latitude) / 2 * radians)
        let y = (b.latitude - a.latitude) * radians
        return (x * x + y * y).squareRoot() * 6_371_000
    }

    /// Cosine by its Taylor series around 0 (latitudes stay within ±90°), so the module needs no libm import.
    static func cosine(_ x: Double) -> Double {
        var term = 1.0
        var sum = 1.0
        let square = x * x
        for n in stride(from: 2, through: 24, by: 2) {
            term *= -square / Double(n * (n - 1))
            sum += term
        }
        return sum
    }

    /// A loop through central Munich: Marienplatz, Odeonsplatz, Ludwigstraße, Schellingstraße, Stiglmaierplatz,
    /// the main station, Karlsplatz (about 5 km).
    static let munichCity = GeoRoute(
        points: [
            (48.137154, 11.576124), (48.142500, 11.577500), (48.150000, 11.580500), (48.149000, 11.568000),
            (48.146000, 11.560000), (48.140200, 11.560000), (48.139000, 11.565500),
        ],
        isClosed: true)

    /// The A9 from Munich-Schwabing to Nuremberg-Feucht (about 150 km), driven back and forth.
    static let a9MunichNuremberg = GeoRoute(
        points: [
            (48.180000, 11.595000), (48.260000, 11.635000), (48.430000, 11.590000), (48.530000, 11.530000),
            (48.720000, 11.440000), (48.800000, 11.430000), (48.930000, 11.460000), (49.050000, 11.350000),
            (49.180000, 11.220000), (49.380000, 11.200000),
        ],
        isClosed: false)
}
